"""A local OIDC token endpoint (client credentials grant) for the local broker's OAUTHBEARER listener.

Managed Kafka services that take OAUTHBEARER (Confluent Cloud, Event Hubs, MSK with an OIDC
provider) get their tokens from an identity provider's token endpoint; librdkafka fetches them itself
(``sasl.oauthbearer.method=oidc``). This stands in for that identity provider so the whole path runs
locally: ``POST /token`` with ``grant_type=client_credentials`` and the client's id and secret (HTTP
Basic, as librdkafka sends them, or form fields) answers a JWT signed RS256 with the key
:func:`~streams.devtools.broker_security.ensure_tls_material` wrote, which the broker checks against
the matching JWK set file. Claims: ``sub`` (the client id: the Kafka principal), ``aud``, ``iss``,
``iat``, ``exp`` and ``scope``. A wrong client or secret gets ``401 invalid_client`` (RFC 6749 5.2).

A development and test tool, not an identity provider: one key, clients given in code, no discovery.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from streams.devtools.broker_security import OAUTH_AUDIENCE, OAUTH_KEY_ID

__all__ = ["ISSUER", "oidc_issuer_app"]

ISSUER = "https://prismaflow-local-issuer.invalid"


def oidc_issuer_app(key_file: Path, clients: Mapping[str, str], *, lifetime_s: int = 300,
                    audience: str = OAUTH_AUDIENCE, clock: Callable[[], float] = time.time) -> Starlette:
    """The token endpoint: ``clients`` maps client id to secret; tokens live ``lifetime_s``."""
    key = RSAKey.import_key(key_file.read_bytes(), parameters={"kid": OAUTH_KEY_ID})
    known = dict(clients)

    async def token(request: Request) -> JSONResponse:
        # The body is application/x-www-form-urlencoded (RFC 6749 4.4.2); read with the standard
        # library, as starlette's form parser would need python-multipart for it.
        form = {name: values[0] for name, values in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, secret = _client_credentials(request.headers.get("authorization", ""), form)
        expected = known.get(client_id or "")
        if expected is None or secret is None or not hmac.compare_digest(secret.encode(), expected.encode()):
            return JSONResponse({"error": "invalid_client"}, status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="token"'})
        now = int(clock())
        scope = form.get("scope", "")
        claims = {"iss": ISSUER, "sub": client_id, "aud": audience, "iat": now, "exp": now + lifetime_s,
                  "scope": scope}
        access_token = jwt.encode({"alg": "RS256", "kid": OAUTH_KEY_ID, "typ": "JWT"}, claims, key)
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime_s,
                             "scope": scope})

    return Starlette(routes=[Route("/token", token, methods=["POST"])])


def _client_credentials(authorization: str, form: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The client id and secret: HTTP Basic (RFC 6749 2.3.1) first, else the form's fields."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            client_id, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return (client_id, secret) if sep else (None, None)
    return form.get("client_id"), form.get("client_secret")
