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
from streams.console.settings import ConsoleSettings
from streams.console.slack import SlackApprovalChannel
from streams.console.users import UserStore

__all__ = ["console_from_settings", "link_signer", "run_console"]

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
                             session_max_age_s=settings.session_max_age_s, extra_routes=extra)


def run_console(settings: ConsoleSettings, desk: ApprovalDesk) -> int:
    """Serve the console with uvicorn until stopped."""
    app = console_from_settings(settings, desk)
    log.info("console host=%s port=%d slack=%s", settings.host, settings.port,
             settings.slack_signing_secret is not None)
    # No access log: a one-click link's signature is in its query string; the console logs each vote itself.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False,
                timeout_graceful_shutdown=10)
    return 0
