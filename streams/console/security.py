"""What guards every console page: security headers, the CSRF token, and who is logged in.

Sessions are Starlette's :class:`~starlette.middleware.sessions.SessionMiddleware` cookies, signed
with ``itsdangerous`` (a forged or altered cookie is an empty session) and sent ``SameSite=Strict``,
HttpOnly and, outside local tests, Secure. Each session carries a random CSRF token; every form
posts it back and :func:`checked_form` refuses a POST whose token is missing or different (403) —
SameSite alone does not cover old browsers or a sibling sub-domain.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streams.console.users import Principal

__all__ = ["CSP", "SecurityHeaders", "checked_form", "csrf_token", "current_user", "flash", "log_in", "log_out", "read_form", "Resolver"]

#: No script at all, styles from the console only, forms post to the console only, never framed.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # One-click links carry their signature in the query: never hand it to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """ASGI middleware adding :data:`CSP`, ``X-Frame-Options: DENY`` and friends to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


MAX_FORM_BYTES = 64 * 1024


async def read_form(request: Request) -> dict[str, str]:
    """A posted ``application/x-www-form-urlencoded`` form (every form here is one), first value per
    field; 415 for another type, 413 past :data:`MAX_FORM_BYTES`. Parsed with the standard library:
    no multipart parser for forms that never upload files."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise HTTPException(415, "expected a form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    form: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
        form.setdefault(key, value)
    return form


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form, once its ``csrf`` field equals the session's token; 403 otherwise."""
    form = await read_form(request)
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "CSRF token missing or wrong")
    return form


Resolver = Callable[[str, str], Principal | None]
"""``(name, source) -> principal``: looks a session's user up again on every request."""


def current_user(request: Request, resolve: Resolver) -> Principal | None:
    """The logged-in user, looked up again (a removed user or a changed role counts at once)."""
    name, source = request.session.get("user"), request.session.get("source", "local")
    return resolve(name, source) if isinstance(name, str) and isinstance(source, str) else None


def log_in(request: Request, user: Principal) -> None:
    """Start a fresh session for ``user``: a new CSRF token, nothing kept from before (no fixation)."""
    request.session.clear()
    request.session["user"] = user.name
    request.session["source"] = user.source
    csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


def flash(request: Request, text: str | None = None) -> Any:
    """Set the one-shot message shown on the next page, or (no ``text``) take it."""
    if text is not None:
        request.session["flash"] = text
        return None
    return request.session.pop("flash", None)
