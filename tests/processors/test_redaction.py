"""The one redaction pass: every kind of secret goes, ordinary identifiers stay, and it is idempotent.

The secrets below are synthetic, built from each provider's documented format (AWS's own
documentation examples for the access key pair); none is a live credential.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.analyze.redact import Redactor
from processors.redaction import (
    REDACTED,
    contains_secret,
    is_secret_key,
    redact_alert,
    redact_data,
    redact_json_text,
    redact_model,
    redact_text,
    redact_value,
)
from tests.factories import make_alert, make_analysis, make_enrichment, make_resource_ref, make_scored_alert

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AZURE_KEY = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaYWJjZGVmZ2hpamtsbW5vcA=="
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9xZ\nq1w2e3r4t5y6u7i8o9p0\n-----END RSA PRIVATE KEY-----"

#: (kind, text containing it, the secret part that must disappear)
SECRETS: list[tuple[str, str, str]] = [
    ("aws access key id", f"key {AWS_KEY_ID} leaked", AWS_KEY_ID),
    ("aws session key id", "ASIAY34FZKBOKMUTVV7A in use", "ASIAY34FZKBOKMUTVV7A"),
    ("aws secret access key (beside its id)", f"{AWS_KEY_ID} / {AWS_SECRET}", AWS_SECRET),
    ("aws secret access key (assignment)", f"aws_secret_access_key={AWS_SECRET}", AWS_SECRET),
    ("aws secret access key (json)", json.dumps({"SecretAccessKey": AWS_SECRET}), AWS_SECRET),
    ("gcp api key", "maps key AIzaSyD3fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5b", "AIzaSyD3fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5b"),
    ("gcp service-account key (json)", json.dumps({"type": "service_account", "private_key": PEM + "\n"}), "MIIEowIBAAKCAQEA"),
    ("azure storage key", f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
     AZURE_KEY[:40]),
    ("azure storage key (bare, with context)", f"storage secret {AZURE_KEY}", AZURE_KEY[:40]),
    ("azure sas token", "https://acme.blob.core.windows.net/c/f?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01"
     "&sig=Xq7bLw0k9mZ2%2BvN4tR8yQ1aP6sD3fG5hJ7kL9zC0xE%3D", "Xq7bLw0k9mZ2"),
    ("azure service bus key", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=root;"
     "SharedAccessKey=kQ9dP2mZ7xV4bN1cR8tY5uI3oL6aS0fG2hJ4kE8wQ1=", "kQ9dP2mZ7xV4"),
    ("pem private key", f"tag value {PEM} end", "MIIEowIBAAKCAQEA"),
    ("openssh private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXktdjEAAAAA"),
    ("truncated private key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B", "MIIEvQIBADANBgkqhkiG9w0B"),
    ("jwt", "session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("github token", "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 in env", "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"),
    ("github fine-grained token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCD", "github_pat_11ABCDEFG"),
    ("gitlab token", "glpat-x7Yz9AbC3dEf5GhI1jKl", "glpat-x7Yz9AbC3dEf5GhI1jKl"),
    ("slack bot token", "xoxb-2048-4096-aB3dE5fG7hJ9kL1m", "xoxb-2048-4096-aB3dE5fG7hJ9kL1m"),
    ("slack webhook url", "https://hooks.slack.com/services/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",
     "aB3dE5fG7hJ9kL1mN3pQ5rS7"),
    ("openai key", "OPENAI sk-proj-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3", "aB3dE5fG7hJ9kL1mN3pQ5rS7"),
    ("stripe key", "sk_live_aB3dE5fG7hJ9kL1mN3pQ5rS7", "aB3dE5fG7hJ9kL1mN3pQ5rS7"),
    ("bearer token", "curl -H 'Authorization: Bearer x9Y8w7V6u5T4s3R2q1P0o9N8' https://api", "x9Y8w7V6u5T4s3R2q1P0o9N8"),
    ("basic credentials", "Authorization: Basic ZGVwbG95OmMwcnJlY3QtaG9yc2U=", "ZGVwbG95OmMwcnJlY3QtaG9yc2U="),
    ("password in url", "DATABASE_URL postgres://app:Tr0ub4dor-and-3@db.internal:5432/app", "Tr0ub4dor-and-3"),
    ("password in url with @", "mongodb://admin:p@ss@w0rd@mongo:27017", "p@ss@w0rd"),
    ("password in url, no user", "redis://:r3disPa55@cache:6379/0", "r3disPa55"),
    ("password assignment", "connect with password=Hunter2Hunter2 now", "Hunter2Hunter2"),
    ("quoted password with spaces", 'db: {"password": "correct horse battery staple"}', "correct horse battery staple"),
    ("yaml password", "db_password: s3cr3t!value", "s3cr3t!value"),
    ("camel-case password key", '"masterUserPassword":"Pl4intext-Pw"', "Pl4intext-Pw"),
    ("odbc connection string", "Server=tcp:db;Database=app;User Id=sa;Pwd=Odbc-Pw-123;", "Odbc-Pw-123"),
    ("api key header", "x-api-key: 4f9c2b7e1d8a6f3c5b2e9d7a1c4f8b6e", "4f9c2b7e1d8a6f3c5b2e9d7a1c4f8b6e"),
    ("env assignment", "export PGPASSWORD=pgSecret99 && psql", "pgSecret99"),
    ("cli flag", "/opt/app/run --password Cl1-Pass-w0rd --verbose", "Cl1-Pass-w0rd"),
    ("mysql -p", "mysql -u root -pMyS3cretPw appdb", "MyS3cretPw"),
    ("curl -u", "curl -u deploy:D3ploy-Pw https://ci.internal/api", "D3ploy-Pw"),
    ("sshpass", "sshpass -p Ssh-Pw-771 ssh ops@10.0.0.4", "Ssh-Pw-771"),
]

#: Identifiers and settings that look like secrets to a careless pattern; none may change.
ORDINARY: list[str] = [
    "arn:aws:iam::123456789012:role/app-deploy",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "sha256:4b9a0e1f2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7",
    "4B9A0E1F2C3D4E5F60718293A4B5C6D7E8F90A1B",  # sha1, upper case
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # sha1
    "CVE-2024-3094 and CVE-2021-44228",
    "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-Prod1/providers/Microsoft.Storage",
    "i-0a1b2c3d4e5f60718 in sg-0123456789abcdef0 of account 123456789012",
    "projects/acme-prod-42/serviceAccounts/app@acme-prod-42.iam.gserviceaccount.com",
    "MetadataOptions.HttpTokens: optional",
    '{"HttpTokens": "optional", "HttpEndpoint": "enabled"}',
    "password_last_used: 2024-01-01T00:00:00Z",
    "PasswordReusePrevention=24, MinimumPasswordLength=14",
    "access_key_1_active: true, access_key_1_last_rotated: 2023-11-02",
    "Ensure IAM password policy requires at least one symbol",
    "The token: [REDACTED] was removed",
    "https://app.prismacloud.io/alerts/overview?alertId=P-4711",
    "https://acme.example.com:8443/path@v2",
    "sk-prod-cluster-analytics-eu-west-1",
    "task-runner-build-artifacts-2024",
    "Storage account allows anonymous blob access (ssh/rdp open: port 22)",
]


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_every_kind_of_secret_is_redacted(kind: str, text: str, secret: str) -> None:
    redacted = redact_text(text)

    assert secret not in redacted
    assert REDACTED in redacted
    assert contains_secret(text) and not contains_secret(redacted)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_identifiers_and_settings_are_left_alone(text: str) -> None:
    assert redact_text(text) == text
    assert not contains_secret(text)


def test_only_the_secret_part_goes_so_the_text_stays_readable() -> None:
    assert redact_text("postgres://app:Tr0ub4dor@db:5432/app") == "postgres://app:[REDACTED]@db:5432/app"
    assert redact_text("Authorization: Bearer x9Y8w7V6u5T4s3R2q1P0") == "Authorization: Bearer [REDACTED]"
    assert redact_text("mysql -u root -pMyS3cretPw appdb") == "mysql -u root -p[REDACTED] appdb"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([t for _, t, _ in SECRETS] + ORDINARY) | st.text(max_size=40), max_size=5)
       .map(" ".join))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_the_prompt_redactor_uses_the_same_patterns(kind: str, text: str, secret: str) -> None:
    redactor = Redactor()

    redacted = redactor.redact(text)

    assert secret not in redacted and "SECRET_" in redacted
    assert secret not in redactor.restore(redacted) and REDACTED in redactor.restore(redacted), \
        "secrets are never restored"


# --- names that say "secret" -------------------------------------------------------------------


@pytest.mark.parametrize("key", ["db_password", "apiKey", "GITHUB_TOKEN", "client_secret", "SecretString",
                                 "AccountKey", "x-api-key", "Authorization", "connectionString", "AWS_SECRET_ACCESS_KEY"])
def test_names_that_end_in_a_secret_are_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["HttpTokens", "password_last_used", "PasswordPolicy", "access_key_1_active",
                                 "secretArn", "tokenExpiry", "KmsKeyId", "secretName", "env", "owner"])
def test_names_about_a_secret_are_not(key: str) -> None:
    assert not is_secret_key(key)


def test_values_of_secret_named_fields_go_whole_and_settings_stay() -> None:
    assert redact_value("db_password", "hunter2") == REDACTED
    assert redact_value("GITHUB_TOKEN", "short") == REDACTED
    assert redact_value("api_token", "true") == "true"
    assert redact_value("HttpTokens", "optional") == "optional"
    assert redact_value("privateKeyData", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC") == REDACTED  # mentions one, random
    assert redact_value("KmsKeyId", "1234abcd-12ab-34cd-56ef-1234567890ab") == "1234abcd-12ab-34cd-56ef-1234567890ab"
    assert redact_value("note", f"rotate {AWS_KEY_ID}") == f"rotate {REDACTED}"


def test_structured_data_is_redacted_by_field_name_including_tag_lists() -> None:
    config = {
        "Tags": [{"Key": "db_password", "Value": "hunter2"}, {"Key": "env", "Value": "prod"}],
        "Env": [{"name": "API_TOKEN", "value": "tok-123456"}, {"name": "LOG_LEVEL", "value": "debug"}],
        "MetadataOptions": {"HttpTokens": "optional"},
        "masterUserPassword": 12345678,
        "StorageEncrypted": False,
        "UserData": "#!/bin/sh\nexport AWS_SECRET_ACCESS_KEY=" + AWS_SECRET,
    }

    out = redact_data(config)

    assert out["Tags"] == [{"Key": "db_password", "Value": REDACTED}, {"Key": "env", "Value": "prod"}]
    assert out["Env"] == [{"name": "API_TOKEN", "value": REDACTED}, {"name": "LOG_LEVEL", "value": "debug"}]
    assert out["MetadataOptions"] == {"HttpTokens": "optional"}
    assert out["masterUserPassword"] == REDACTED and out["StorageEncrypted"] is False
    assert AWS_SECRET not in out["UserData"]
    assert config["Tags"][0]["Value"] == "hunter2", "the input is not changed"


def test_unchanged_data_comes_back_as_the_same_object() -> None:
    config = {"MetadataOptions": {"HttpTokens": "optional"}, "Tags": [{"Key": "env", "Value": "prod"}]}
    text = json.dumps(config)

    assert redact_data(config) is config
    assert redact_json_text(text) is text


def test_json_text_is_redacted_by_field_and_stays_json() -> None:
    text = json.dumps({"db": {"password": "pw with spaces", "host": "db.internal"}, "note": f"id {AWS_KEY_ID}"})

    out = json.loads(redact_json_text(text))

    assert out == {"db": {"password": REDACTED, "host": "db.internal"}, "note": f"id {REDACTED}"}
    assert redact_json_text(f"not json, password={AWS_SECRET}") == f"not json, password={REDACTED}"


# --- models ------------------------------------------------------------------------------------


def test_an_alert_loses_its_secrets_in_every_field_that_carries_alert_text() -> None:
    alert = make_alert(
        policy_name=f"Exposed key {AWS_KEY_ID}",
        description=f"Found {AWS_KEY_ID} / {AWS_SECRET} in user data",
        recommendation="Rotate the token ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
        resource=make_resource_ref(name="db-postgres://app:Tr0ub4dor@db", tags={"env": "prod", "ssh_key": PEM}),
        enrichment=make_enrichment(resource_config_json=json.dumps({"ConnectionString": "Server=db;Password=x1y2z3w4"})),
    )

    clean = redact_alert(alert)

    text = clean.model_dump_json()
    for secret in (AWS_KEY_ID, AWS_SECRET, "ghp_aB3dE5", "Tr0ub4dor", "MIIEowIBAAKCAQEA", "x1y2z3w4"):
        assert secret not in text
    assert clean.resource.tags["env"] == "prod" and clean.alert_id == alert.alert_id
    assert clean.resource.asset_id == alert.resource.asset_id and clean.content_hash == alert.content_hash


def test_an_alert_without_secrets_is_returned_as_is() -> None:
    alert = make_alert()
    assert redact_alert(alert) is alert


def test_redact_model_reaches_nested_models_lists_and_json_fields() -> None:
    scored = make_scored_alert(alert=make_alert(
        description=f"key {AWS_KEY_ID}", enrichment=make_enrichment(resource_config_json=json.dumps({"apiKey": "k-1"}))))
    analysis = make_analysis(root_cause=f"The token xoxb-2048-4096-aB3dE5fG7hJ9kL1m leaked in {PEM}")

    clean_scored, clean_analysis = redact_model(scored), redact_model(analysis)

    assert AWS_KEY_ID not in clean_scored.model_dump_json() and '"apiKey": "[REDACTED]"' in \
        clean_scored.alert.enrichment.resource_config_json
    assert "xoxb-" not in clean_analysis.root_cause and "MIIE" not in clean_analysis.root_cause
    assert clean_analysis.input_hash == analysis.input_hash
    assert redact_model(clean_analysis) is clean_analysis, "a clean model is returned as it is"
