"""A fake ``/oauth_token.do``: password, client-credentials and refresh grants for bearer tokens."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from connectors.servicenow.simulator.app import ServiceNowSimulator

__all__ = ["oauth_token"]

_DENIED = {"error": "access_denied", "error_description": "access_denied"}


async def oauth_token(sim: ServiceNowSimulator, request: Request) -> Response:
    """Issue a bearer token valid for ``oauth_token_ttl_s`` to a known client."""
    # application/x-www-form-urlencoded, parsed by hand: no python-multipart dependency.
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    grant = str(form.get("grant_type", ""))
    client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    if sim.config.oauth_clients.get(client_id) != secret:
        return JSONResponse(_DENIED, status_code=401)
    user = "prismaflow"
    if grant == "password":
        user = str(form.get("username", ""))
        found = sim.config.users.get(user)
        if found is None or found.password != str(form.get("password", "")):
            return JSONResponse(_DENIED, status_code=401)
    elif grant not in ("client_credentials", "refresh_token"):
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    token = secrets.token_urlsafe(24)
    sim.oauth_tokens[token] = (user, sim.clock() + sim.config.oauth_token_ttl_s)
    return JSONResponse({"access_token": token, "refresh_token": secrets.token_urlsafe(24),
                         "scope": "useraccount", "token_type": "Bearer",
                         "expires_in": int(sim.config.oauth_token_ttl_s)})
