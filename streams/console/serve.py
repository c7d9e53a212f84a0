"""Builds the console from the settings tree and serves it (``prismaflow console``).

The console needs its secrets (session key, link key) and a user store; the Slack channel is
mounted when a signing secret is set. The desk is passed in: the approval service's in production,
an in-memory one for ``prismaflow console --demo``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

from processors.errors import ConfigurationError
from processors.remediation.desk import ApprovalDesk
from streams.console.app import build_console_app
from streams.console.links import LinkSigner
from streams.console.oidc import OidcLogin, OidcProvider
from streams.console.settings import ConsoleSettings
from streams.console.slack import SlackApprovalChannel
from streams.console.users import Role, UserStore

__all__ = ["console_from_settings", "link_signer", "run_console", "sso_login"]

log = logging.getLogger(__name__)


def link_signer(settings: ConsoleSettings, clock: Callable[[], float] = time.time) -> LinkSigner:
    if settings.link_secret is None:
        raise ConfigurationError("set PRISMAFLOW_CONSOLE_LINK_SECRET (a file in the secrets folder)")
    return LinkSigner(settings.link_secret.get_secret_value().encode(), settings.link_ttl_s, clock)


def console_from_settings(settings: ConsoleSettings, desk: ApprovalDesk, *, users: UserStore | None = None,
                          clock: Callable[[], float] = time.time) -> Starlette:
    """The console app for ``settings`` over ``desk``; :class:`ConfigurationError` names what is missing."""
    if settings.session_secret is None:
        raise ConfigurationError("set PRISMAFLOW_CONSOLE_SESSION_SECRET (a file in the secrets folder)")
    if users is None:
        if settings.users_file is None:
            raise ConfigurationError("set PRISMAFLOW_CONSOLE_USERS_FILE (the console's user store)")
        users = UserStore.load(settings.users_file)
    extra = []
    if settings.slack_signing_secret is not None:
        slack = SlackApprovalChannel(desk, signing_secret=settings.slack_signing_secret.get_secret_value(),
                                     approvers=settings.slack_approvers, clock=clock)
        extra = slack.routes()
    return build_console_app(desk, users, session_secret=settings.session_secret.get_secret_value(),
                             links=link_signer(settings, clock), secure_cookies=settings.secure_cookies,
                             session_max_age_s=settings.session_max_age_s, extra_routes=extra,
                             sso=sso_login(settings, clock))


def sso_login(settings: ConsoleSettings, clock: Callable[[], float] = time.time) -> OidcLogin | None:
    """The OpenID Connect login when ``PRISMAFLOW_CONSOLE_OIDC_ISSUER`` is set (then all its parts must be)."""
    if settings.oidc_issuer is None:
        return None
    parts = {"CLIENT_ID": settings.oidc_client_id, "CLIENT_SECRET": settings.oidc_client_secret,
             "AUTHORIZATION_ENDPOINT": settings.oidc_authorization_endpoint,
             "TOKEN_ENDPOINT": settings.oidc_token_endpoint}
    missing = [f"PRISMAFLOW_CONSOLE_OIDC_{name}" for name, value in parts.items() if value is None]
    if missing:
        raise ConfigurationError("single sign-on needs " + ", ".join(missing))
    assert settings.oidc_client_secret is not None and settings.oidc_token_endpoint is not None
    # The ID token is trusted because it comes straight from the token endpoint over TLS (see streams.console.oidc).
    if not settings.oidc_token_endpoint.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ConfigurationError("PRISMAFLOW_CONSOLE_OIDC_TOKEN_ENDPOINT must be https://")
    bad_roles = sorted(role for role in settings.oidc_roles.values() if role not in {r.value for r in Role})
    if bad_roles:
        raise ConfigurationError(f"PRISMAFLOW_CONSOLE_OIDC_ROLES: unknown role(s) {', '.join(bad_roles)}")
    provider = OidcProvider(issuer=settings.oidc_issuer, client_id=str(settings.oidc_client_id),
                            client_secret=settings.oidc_client_secret.get_secret_value(),
                            authorization_endpoint=str(settings.oidc_authorization_endpoint),
                            token_endpoint=settings.oidc_token_endpoint, identity_claim=settings.oidc_identity_claim)
    return OidcLogin(provider, settings.oidc_roles, base_url=settings.base_url, clock=clock)


def run_console(settings: ConsoleSettings, desk: ApprovalDesk) -> int:
    """Serve the console with uvicorn until stopped."""
    app = console_from_settings(settings, desk)
    log.info("console host=%s port=%d slack=%s", settings.host, settings.port,
             settings.slack_signing_secret is not None)
    # No access log: a one-click link's signature is in its query string; the console logs each vote itself.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False,
                timeout_graceful_shutdown=10)
    return 0
