"""ServiceNow settings: flat credentials (as the settings tree reads them) build the auth."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from connectors.servicenow.settings import BasicAuth, BearerAuth, ServiceNowSettings

URL = "https://acme.service-now.com"


def test_username_and_password_build_basic_auth_and_a_bearer_token_wins() -> None:
    basic = ServiceNowSettings(instance_url=URL, username="integration", password=SecretStr("pw"))
    assert isinstance(basic.auth, BasicAuth) and basic.auth.username == "integration"
    bearer = ServiceNowSettings(instance_url=URL, username="integration", password=SecretStr("pw"),
                                bearer_token=SecretStr("oauth"))
    assert isinstance(bearer.auth, BearerAuth) and bearer.auth.token.get_secret_value() == "oauth"


def test_a_given_auth_is_mirrored_in_the_flat_fields_and_no_credentials_is_refused() -> None:
    settings = ServiceNowSettings(instance_url=URL, auth=BasicAuth(username="integration", password=SecretStr("pw")))
    assert settings.username == "integration" and settings.bearer_token is None
    with pytest.raises(ValidationError, match="set bearer_token, or username and password"):
        ServiceNowSettings(instance_url=URL, password=SecretStr("pw"))
