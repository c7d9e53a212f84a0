"""The local OIDC token endpoint: client credentials in, an RS256 JWT the broker's JWK set verifies out;
a wrong client or secret is ``401 invalid_client``, another grant ``400``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from streams.devtools.broker_security import OAUTH_AUDIENCE, TlsMaterial, ensure_tls_material
from streams.devtools.oidc_issuer import ISSUER, oidc_issuer_app

CLIENTS = {"prismaflow-workers": "oidc-s3cret"}


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return ensure_tls_material(tmp_path_factory.mktemp("tls"), "127.0.0.1")


async def _post(material: TlsMaterial, data: dict[str, str], auth: tuple[str, str] | None = None,
                now: float = 1_800_000_000.0) -> httpx.Response:
    app = oidc_issuer_app(material.oauth_issuer_key, CLIENTS, clock=lambda: now)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://issuer") as client:
        return await client.post("/token", data=data, auth=auth)


async def test_client_credentials_over_basic_auth_give_a_token_the_brokers_key_set_verifies(
    material: TlsMaterial,
) -> None:
    response = await _post(material, {"grant_type": "client_credentials", "scope": "kafka"},
                           auth=("prismaflow-workers", "oidc-s3cret"))
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "kafka")
    keys = KeySet.import_key_set(json.loads(material.oauth_jwks.read_text()))
    token = jwt.decode(body["access_token"], keys)
    assert token.header["alg"] == "RS256"
    assert token.claims == {"iss": ISSUER, "sub": "prismaflow-workers", "aud": OAUTH_AUDIENCE,
                            "iat": 1_800_000_000, "exp": 1_800_000_300, "scope": "kafka"}


async def test_credentials_in_the_form_are_accepted_too(material: TlsMaterial) -> None:
    response = await _post(material, {"grant_type": "client_credentials", "client_id": "prismaflow-workers",
                                       "client_secret": "oidc-s3cret"})
    assert response.status_code == 200


@pytest.mark.parametrize("auth", [("prismaflow-workers", "wrong"), ("someone-else", "oidc-s3cret")])
async def test_a_wrong_client_or_secret_is_invalid_client(material: TlsMaterial, auth: tuple[str, str]) -> None:
    response = await _post(material, {"grant_type": "client_credentials"}, auth=auth)
    assert (response.status_code, response.json()) == (401, {"error": "invalid_client"})


async def test_a_malformed_basic_header_is_invalid_client(material: TlsMaterial) -> None:
    app = oidc_issuer_app(material.oauth_issuer_key, CLIENTS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://issuer") as client:
        for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
            response = await client.post("/token", data={"grant_type": "client_credentials"},
                                         headers={"Authorization": header})
            assert response.status_code == 401


async def test_only_the_client_credentials_grant_is_served(material: TlsMaterial) -> None:
    response = await _post(material, {"grant_type": "password"}, auth=("prismaflow-workers", "oidc-s3cret"))
    assert (response.status_code, response.json()) == (400, {"error": "unsupported_grant_type"})


def test_the_key_set_holds_only_the_public_key(material: TlsMaterial) -> None:
    (key,) = json.loads(material.oauth_jwks.read_text())["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "use"} and key["kty"] == "RSA"
    assert Path(material.oauth_issuer_key).read_text().startswith("-----BEGIN PRIVATE KEY-----")
