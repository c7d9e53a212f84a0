"""Single sign-on for the console: the OpenID Connect authorization-code flow with PKCE.

``GET /login/sso`` sends the browser to the provider's authorization endpoint with a fresh
``state``, ``nonce`` and PKCE ``code_challenge`` (S256) kept in the session; the provider sends the
browser back to ``/login/sso/callback`` with a code, which the console exchanges at the token
endpoint (client secret over HTTP basic auth, with the PKCE verifier). The ID token in that answer
came straight from the provider's token endpoint over TLS, so, as OpenID Connect Core 1.0 §3.1.3.7
allows for that case, TLS stands in for the signature check; its claims are still checked: ``iss``
is the configured issuer, ``aud`` holds the client id (``azp`` too when there are several), it has
not expired, and its ``nonce`` is the session's. The person is the ``oidc_identity_claim`` (email by
default) and gets the role the ``oidc_roles`` mapping gives; nobody else gets in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from streams.console.security import log_in
from streams.console.users import Principal, Role

__all__ = ["OidcLogin", "OidcProvider"]

log = logging.getLogger(__name__)

_CLOCK_SKEW_S = 60


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(id_token: str) -> dict[str, Any]:
    """The payload of a compact JWT (its signature is not checked here: see the module docstring)."""
    parts = id_token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWT")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not an object")
    return claims


@dataclass(frozen=True, kw_only=True)
class OidcProvider:
    """Where the provider is and who the console is to it (the secret is kept out of its repr)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    authorization_endpoint: str
    token_endpoint: str
    identity_claim: str = "email"


class OidcLogin:
    """The two SSO routes and the role mapping that decides who may come in."""

    def __init__(self, provider: OidcProvider, roles: Mapping[str, str], *, base_url: str,
                 http: httpx.AsyncClient | None = None, clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        # Mapping keys arrive in lower case from the settings (PRISMAFLOW_CONSOLE_OIDC_ROLES__<IDENTITY>).
        self._roles = {identity.lower(): Role(role) for identity, role in roles.items()}
        self._redirect_uri = base_url.rstrip("/") + "/login/sso/callback"
        self._http = http
        self._clock = clock

    def routes(self) -> list[Route]:
        return [Route("/login/sso", self.start, methods=["GET"]),
                Route("/login/sso/callback", self.callback, methods=["GET"])]

    def principal(self, identity: str) -> Principal | None:
        """The SSO user ``identity`` with their current role, or None when the mapping lacks them."""
        role = self._roles.get(identity.lower())
        return None if role is None else Principal(identity, role, source="sso")

    async def start(self, request: Request) -> Response:
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        next_path = request.query_params.get("next", "/")
        request.session["sso"] = {"state": state, "nonce": nonce, "verifier": verifier,
                                  "next": next_path if next_path.startswith("/") and not next_path.startswith("//")
                                  else "/"}
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        query = urlencode({"response_type": "code", "client_id": self.provider.client_id,
                           "redirect_uri": self._redirect_uri, "scope": "openid email profile", "state": state,
                           "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"})
        return RedirectResponse(f"{self.provider.authorization_endpoint}?{query}", status_code=303)

    async def callback(self, request: Request) -> Response:
        pending = request.session.pop("sso", None)
        state, code = request.query_params.get("state", ""), request.query_params.get("code", "")
        if not isinstance(pending, dict) or not code or not hmac.compare_digest(state, str(pending.get("state", ""))):
            raise HTTPException(403, "sign-in state missing or wrong; start again")
        claims = await self._exchange(code, str(pending["verifier"]))
        problem = self._claims_problem(claims, str(pending["nonce"]))
        if problem is not None:
            log.warning("console sso refused reason=%s", problem)
            raise HTTPException(403, "sign-in refused")
        identity = str(claims.get(self.provider.identity_claim) or "")
        principal = self.principal(identity)
        if principal is None:
            log.warning("console sso refused reason=no-role")
            raise HTTPException(403, "no console role for this account")
        log_in(request, principal)
        log.info("console login user=%s role=%s source=sso", principal.name, principal.role.value)
        return RedirectResponse(str(pending.get("next", "/")), status_code=303)

    async def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self._redirect_uri,
                "code_verifier": verifier}
        auth = (self.provider.client_id, self.provider.client_secret)
        try:
            if self._http is not None:
                response = await self._http.post(self.provider.token_endpoint, data=form, auth=auth)
            else:
                async with httpx.AsyncClient(timeout=10.0) as http:
                    response = await http.post(self.provider.token_endpoint, data=form, auth=auth)
            response.raise_for_status()
            return _claims(str(response.json()["id_token"]))
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
            log.warning("console sso token exchange failed error=%s", type(exc).__name__)
            raise HTTPException(502, "the sign-in provider did not answer as expected") from None

    def _claims_problem(self, claims: Mapping[str, Any], nonce: str) -> str | None:
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        now = self._clock()
        if claims.get("iss") != self.provider.issuer:
            return "issuer"
        if self.provider.client_id not in audiences:
            return "audience"
        if len(audiences) > 1 and claims.get("azp") != self.provider.client_id:
            return "authorized party"
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] + _CLOCK_SKEW_S < now:
            return "expired"
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            return "nonce"
        return None
