"""The Kafka security settings a managed cluster needs: TLS with a client certificate, SASL PLAIN and
SCRAM, SASL OAUTHBEARER with OIDC client credentials; what librdkafka configuration each gives, and
the combinations refused at start with a message that names the settings, never a value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from processors.errors import ConfigurationError
from streams.config import load_settings
from streams.kafka_clients import KafkaClients
from streams.settings import KafkaSettings

OIDC: dict[str, Any] = {
    "security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER",
    "sasl_oauthbearer_client_id": "prismaflow-workers",
    "sasl_oauthbearer_client_secret": SecretStr("oidc-s3cret"),
    "sasl_oauthbearer_token_endpoint_url": "https://login.example.com/oauth2/v2.0/token",
}


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty secrets folder that ``PRISMAFLOW_SECRETS_DIR`` names."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(folder))
    return folder


def test_a_client_certificate_and_its_encrypted_key_reach_librdkafka() -> None:
    settings = KafkaSettings(security_protocol="SSL", ssl_ca_location="/etc/kafka/ca.pem",
                             ssl_certificate_location="/etc/kafka/client.pem", ssl_key_location="/etc/kafka/client.key",
                             ssl_key_password=SecretStr("key-s3cret"))
    config = settings.client_config()
    assert {key: config[key] for key in ("security.protocol", "ssl.ca.location", "ssl.certificate.location",
                                         "ssl.key.location", "ssl.key.password",
                                         "ssl.endpoint.identification.algorithm")} == {
        "security.protocol": "SSL", "ssl.ca.location": "/etc/kafka/ca.pem",
        "ssl.certificate.location": "/etc/kafka/client.pem", "ssl.key.location": "/etc/kafka/client.key",
        "ssl.key.password": "key-s3cret", "ssl.endpoint.identification.algorithm": "https"}
    assert "key-s3cret" not in repr(settings)


def test_host_name_checking_is_on_by_default_and_can_be_turned_off_for_tls_only() -> None:
    assert KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="u",
                         sasl_password=SecretStr("p")).client_config()["ssl.endpoint.identification.algorithm"] == "https"
    off = KafkaSettings(security_protocol="SSL", ssl_endpoint_identification=False).client_config()
    assert off["ssl.endpoint.identification.algorithm"] == "none"
    assert "ssl.endpoint.identification.algorithm" not in KafkaSettings().client_config()  # no TLS, no check


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_password_mechanisms_pass_user_and_password(mechanism: str) -> None:
    config = KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism=mechanism, sasl_username="svc-prismaflow",
                           sasl_password=SecretStr("pw")).client_config()
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == (mechanism, "svc-prismaflow", "pw")
    assert not any(key.startswith("sasl.oauthbearer") for key in config)


def test_oauthbearer_uses_librdkafkas_own_oidc_client_credentials_flow() -> None:
    config = KafkaSettings(**OIDC, sasl_oauthbearer_scope="kafka",
                           sasl_oauthbearer_extensions="logicalCluster=lkc-abc12,identityPoolId=pool-XyZ").client_config()
    oauth = {key: value for key, value in config.items() if key.startswith("sasl.")}
    assert oauth == {
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.client.id": "prismaflow-workers",
        "sasl.oauthbearer.client.secret": "oidc-s3cret",
        "sasl.oauthbearer.token.endpoint.url": "https://login.example.com/oauth2/v2.0/token",
        "sasl.oauthbearer.scope": "kafka",
        "sasl.oauthbearer.extensions": "logicalCluster=lkc-abc12,identityPoolId=pool-XyZ",
    }


def test_librdkafka_itself_accepts_the_oauthbearer_configuration() -> None:
    """A real client is built from it: librdkafka refuses unknown or conflicting properties at once."""
    admin = KafkaClients(KafkaSettings(**OIDC, bootstrap_servers="127.0.0.1:1")).admin()
    assert admin is not None


def test_protocol_and_mechanism_names_are_taken_in_any_case() -> None:
    settings = KafkaSettings(security_protocol="sasl_ssl", sasl_mechanism="scram-sha-512", sasl_username="u",
                             sasl_password=SecretStr("p"))
    assert (settings.security_protocol, settings.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")


def test_every_security_setting_comes_from_the_environment_and_secrets_from_the_secrets_folder(
    secrets: Path, set_env: Callable[[dict[str, str]], None],
) -> None:
    set_env({
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID": "prismaflow-workers",
        "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL": "https://idp.example.com/token",
        "KAFKA_SASL_OAUTHBEARER_SCOPE": "kafka",
        "KAFKA_SSL_CERTIFICATE_LOCATION": "/run/secrets/client.pem",
        "KAFKA_SSL_KEY_LOCATION": "/run/secrets/client.key",
        "KAFKA_SSL_ENDPOINT_IDENTIFICATION": "false",
    })
    (secrets / "kafka_sasl_oauthbearer_client_secret").write_text("from-a-file\n")
    (secrets / "kafka_ssl_key_password").write_text("key-from-a-file\n")
    config = load_settings().kafka.client_config()
    assert config["sasl.oauthbearer.client.secret"] == "from-a-file"
    assert config["ssl.key.password"] == "key-from-a-file"
    assert config["ssl.certificate.location"] == "/run/secrets/client.pem"
    assert config["sasl.oauthbearer.scope"] == "kafka"
    assert config["ssl.endpoint.identification.algorithm"] == "none"


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "a SASL mechanism on a protocol without SASL": (
        {"security_protocol": "SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u",
         "sasl_password": SecretStr("p")}, "sasl.mechanism SCRAM-SHA-512 needs security.protocol SASL_SSL"),
    "a SASL protocol without a mechanism": (
        {"security_protocol": "SASL_SSL"}, "security.protocol SASL_SSL needs sasl.mechanism"),
    "SCRAM without a password": (
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "u"},
        "SCRAM-SHA-256 needs sasl.password"),
    "a password without a mechanism": (
        {"sasl_username": "u", "sasl_password": SecretStr("p")}, "sasl.username and sasl.password are for"),
    "OAUTHBEARER without its token endpoint": (
        {**OIDC, "sasl_oauthbearer_token_endpoint_url": None}, "needs sasl.oauthbearer.token.endpoint.url"),
    "OAUTHBEARER with a token endpoint that is not a URL": (
        {**OIDC, "sasl_oauthbearer_token_endpoint_url": "idp.example.com/token"}, "must be an http(s) URL"),
    "OIDC settings for another mechanism": (
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u",
         "sasl_password": SecretStr("p"), "sasl_oauthbearer_client_id": "c"},
        "sasl.oauthbearer.* settings are for sasl.mechanism OAUTHBEARER (it is PLAIN)"),
    "a certificate without its key": (
        {"security_protocol": "SSL", "ssl_certificate_location": "/c.pem"},
        "ssl.certificate.location needs ssl.key.location"),
    "a key without its certificate": (
        {"security_protocol": "SSL", "ssl_key_location": "/c.key"}, "ssl.key.location needs ssl.certificate.location"),
    "a key password without a key": (
        {"security_protocol": "SSL", "ssl_key_password": SecretStr("p")}, "ssl.key.password is set but"),
    "TLS files on a protocol without TLS": (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u",
         "sasl_password": SecretStr("p"), "ssl_ca_location": "/ca.pem"},
        "ssl.ca.location needs security.protocol SSL or SASL_SSL (it is SASL_PLAINTEXT)"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_inconsistent_security_settings_are_refused_naming_the_settings(case: str) -> None:
    values, message = REFUSED[case]
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        KafkaSettings(**values)


def test_an_unknown_protocol_or_mechanism_is_refused() -> None:
    with pytest.raises(ValidationError, match="SASL_SSL"):
        KafkaSettings(security_protocol="TLS")
    with pytest.raises(ValidationError, match="OAUTHBEARER"):
        KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-1")


def test_at_start_the_error_names_the_kafka_settings_and_never_a_secret(set_env: Callable[[dict[str, str]], None]) -> None:
    set_env({
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "u",
        "KAFKA_SASL_PASSWORD": "kafka-s3cret",
    })
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert str(raised.value).startswith("invalid setting KAFKA_*: sasl.mechanism SCRAM-SHA-512 needs security.protocol "
                                        "SASL_SSL or SASL_PLAINTEXT (it is SSL)")
    assert "kafka-s3cret" not in str(raised.value)
