"""Single sign-on through OpenID Connect's authorization-code flow with PKCE, against a stand-in
provider built from the documented protocol (OpenID Connect Core 1.0 §3.1: authorization request
parameters, token request with ``code_verifier`` and client basic auth, an ID token with ``iss``,
``aud``, ``exp``, ``nonce``); not a captured exchange."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from processors.errors import ConfigurationError
from streams.console.app import build_console_app
from streams.console.links import LinkSigner
from streams.console.oidc import OidcLogin, OidcProvider
from streams.console.serve import sso_login
from streams.console.settings import ConsoleSettings
from tests.streams.console.desk_factory import Clock, desk_with, make_request, user_store

ISSUER = "https://idp.example"


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@dataclass
class Provider:
    """Issues one code per authorization request and an ID token for it at the token endpoint."""

    person: str = "carol@example.com"
    claims: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def authorize(self, location: str) -> str:
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert (query["response_type"], query["client_id"], query["code_challenge_method"]) == (
            "code", "console", "S256")
        assert "openid" in query["scope"].split()
        code = f"code-{len(self.codes)}"
        self.codes[code] = query
        return f"/login/sso/callback?code={code}&state={query['state']}"

    def token(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(b"console:client-secret").decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, json={"error": "invalid_client"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        asked = self.codes.pop(form.get("code", ""), None)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if asked is None or challenge.rstrip(b"=").decode() != asked["code_challenge"]:
            return httpx.Response(400, json={"error": "invalid_grant"})
        claims = {"iss": ISSUER, "aud": "console", "sub": "u-1", "email": self.person, "exp": 2_000_000_000,
                  "iat": 1_765_098_000, "nonce": asked["nonce"], **self.claims}
        id_token = _b64({"alg": "RS256", "typ": "JWT"}) + "." + _b64(claims) + ".c2lnbmF0dXJl"
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer", "id_token": id_token})


@pytest.fixture
def sso() -> Iterator[tuple[TestClient, Provider]]:
    provider = Provider()
    http = httpx.AsyncClient(transport=httpx.MockTransport(provider.token))
    login = OidcLogin(OidcProvider(issuer=ISSUER, client_id="console", client_secret="client-secret",
                                   authorization_endpoint=f"{ISSUER}/authorize", token_endpoint=f"{ISSUER}/token"),
                      {"carol@example.com": "approver", "vic@example.com": "viewer"},
                      base_url="http://127.0.0.1", http=http, clock=Clock().seconds)
    app = build_console_app(desk_with(make_request()), user_store(), session_secret="sso-session-key-0123456789",
                            links=LinkSigner(b"sso-link-key-0123456789", 3600), secure_cookies=False, sso=login)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, provider


def _sign_in(client: TestClient, provider: Provider, next_path: str = "/") -> httpx.Response:
    start = client.get(f"/login/sso?next={next_path}", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(f"{ISSUER}/authorize?")
    return client.get(provider.authorize(start.headers["location"]), follow_redirects=False)


def test_a_mapped_person_signs_in_with_the_role_the_mapping_gives(sso: tuple[TestClient, Provider]) -> None:
    client, provider = sso
    assert 'id="sso"' in client.get("/login").text
    back = _sign_in(client, provider, "/requests/req-1")
    assert (back.status_code, back.headers["location"]) == (303, "/requests/req-1")
    page = client.get("/requests/req-1").text
    assert "carol@example.com (approver)" in page and 'id="approve"' in page


def test_a_person_without_a_role_is_refused(sso: tuple[TestClient, Provider]) -> None:
    client, provider = sso
    provider.person = "mallory@example.com"
    assert _sign_in(client, provider).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("claims", [{"iss": "https://evil.example"}, {"aud": "someone-else"},
                                    {"exp": 1_000_000_000}, {"nonce": "replayed"},
                                    {"aud": ["console", "other"], "azp": "other"}])
def test_an_id_token_with_a_wrong_claim_is_refused(sso: tuple[TestClient, Provider], claims: dict[str, Any]) -> None:
    client, provider = sso
    provider.claims = claims
    assert _sign_in(client, provider).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_callback_with_a_forged_state_or_a_reused_code_is_refused(sso: tuple[TestClient, Provider]) -> None:
    client, provider = sso
    start = client.get("/login/sso", follow_redirects=False)
    callback = provider.authorize(start.headers["location"])
    forged = callback.split("&state=")[0] + "&state=forged"
    assert client.get(forged, follow_redirects=False).status_code == 403
    assert client.get(callback, follow_redirects=False).status_code == 403  # the attempt was used up


def test_sso_settings_must_be_complete_and_the_token_endpoint_https() -> None:
    assert sso_login(ConsoleSettings()) is None
    with pytest.raises(ConfigurationError, match="PRISMAFLOW_CONSOLE_OIDC_CLIENT_SECRET"):
        sso_login(ConsoleSettings(oidc_issuer=ISSUER, oidc_client_id="c", oidc_authorization_endpoint="https://a",
                                  oidc_token_endpoint="https://t"))
    with pytest.raises(ConfigurationError, match="https"):
        sso_login(ConsoleSettings(oidc_issuer=ISSUER, oidc_client_id="c", oidc_authorization_endpoint="https://a",
                                  oidc_token_endpoint="http://idp.example/token",
                                  oidc_client_secret=SecretStr("s")))


def test_an_unknown_role_in_the_mapping_stops_the_start() -> None:
    with pytest.raises(ConfigurationError, match="unknown role"):
        sso_login(ConsoleSettings(oidc_issuer=ISSUER, oidc_client_id="c", oidc_authorization_endpoint="https://a",
                                  oidc_token_endpoint="https://t", oidc_client_secret=SecretStr("s"),
                                  oidc_roles={"carol@example.com": "root"}))
