"""JiraSettings: validation, flavour paths, labels and priority mapping."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from connectors.jira.settings import BearerAuth, JiraSettings
from processors.models import RiskTier
from processors.records import Priority


def settings(**overrides: object) -> JiraSettings:
    values: dict[str, object] = {"base_url": "https://acme.atlassian.net/",
                                 "auth": {"kind": "basic", "email": "bot@acme.example",
                                          "api_token": "t0ken"}}
    values.update(overrides)
    return JiraSettings.model_validate(values)


def test_defaults_and_paths() -> None:
    cloud = settings()
    assert cloud.base_url == "https://acme.atlassian.net" and cloud.api_path == "/rest/api/3"
    assert cloud.uses_adf and cloud.browse_url("SEC-1") == "https://acme.atlassian.net/browse/SEC-1"
    dc = settings(flavour="datacenter", auth=BearerAuth(token=SecretStr("pat")))
    assert dc.api_path == "/rest/api/2" and not dc.uses_adf
    assert "t0ken" not in repr(cloud) and "pat" not in repr(dc)
    assert cloud.alert_url("P-1 /x") == "https://app.prismacloud.io/alerts/overview?alertId=P-1%20%2Fx"


@pytest.mark.parametrize("bad", [
    {"unknown_key": 1},
    {"base_url": "ftp://jira"},
    {"project_key": "sec"},
    {"labels": ["two words"]},
    {"auth": {"kind": "oauth", "token": "x"}},
    {"tier_priorities": {"critical": "Highest"}},
    {"flavour": "server"},
])
def test_invalid_settings_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        settings(**bad)


def test_fingerprint_label_is_safe_and_capped() -> None:
    s = settings()
    assert s.fingerprint_label("abc123") == "prismaflow-fp-abc123"
    assert s.fingerprint_label('a b"c') == "prismaflow-fp-a_b_c"
    assert len(s.fingerprint_label("f" * 400)) == 255
    with pytest.raises(ValueError):
        s.fingerprint_label("  ")


def test_priority_mapping_prefers_the_analysis() -> None:
    s = settings(analysis_priorities={"P1": "Blocker"})
    assert s.priority_name(RiskTier.LOW) == "Low"
    assert s.priority_name(RiskTier.LOW, Priority.P1) == "Blocker"
    assert s.priority_name(RiskTier.MEDIUM, Priority.P3) == "Medium"  # P3 not mapped: tier


def test_flat_credentials_build_the_auth_and_a_bearer_token_wins() -> None:
    basic = JiraSettings(base_url="https://acme.atlassian.net", email="bot@acme.io", api_token=SecretStr("t"))
    assert basic.auth.kind == "basic" and basic.auth.email == "bot@acme.io"
    bearer = JiraSettings(base_url="https://acme.atlassian.net", email="bot@acme.io", api_token=SecretStr("t"),
                          bearer_token=SecretStr("pat"))
    assert isinstance(bearer.auth, BearerAuth) and bearer.auth.token.get_secret_value() == "pat"


def test_a_given_auth_is_mirrored_in_the_flat_fields_and_no_credentials_is_refused() -> None:
    settings = JiraSettings(base_url="https://acme.atlassian.net", auth=BearerAuth(token=SecretStr("pat")))
    assert settings.bearer_token is not None and settings.bearer_token.get_secret_value() == "pat"
    with pytest.raises(ValidationError, match="set bearer_token, or email and api_token"):
        JiraSettings(base_url="https://acme.atlassian.net", email="bot@acme.io")
