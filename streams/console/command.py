"""``prismaflow console [serve|hash-password] [--demo]``."""

from __future__ import annotations

import argparse
import getpass
import sys

from processors.errors import ConfigurationError
from streams.console.settings import ConsoleSettings
from streams.remediation.settings import RemediationSettings

__all__ = ["approvals_url", "console_command"]


def approvals_url(settings: ConsoleSettings, remediation: RemediationSettings) -> str:
    """Where the console reaches the approval service: ``PRISMAFLOW_CONSOLE_APPROVALS_URL``, else the
    service's own listen address (right only when both run on one host)."""
    return settings.approvals_url or f"http://{remediation.service_host}:{remediation.service_port}"


def console_command(args: argparse.Namespace, settings: ConsoleSettings,
                    remediation: RemediationSettings | None = None) -> int:
    """Serve the console (over the approval service's API, or ``--demo``'s in-memory desk), or print
    the argon2 hash of a password for the user store."""
    if args.action == "hash-password":
        from streams.console.users import hash_password  # lazy: start-up speed, only the layers this command runs

        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        if not password:
            raise ConfigurationError("empty password")
        print(hash_password(password))
        return 0
    from streams.console.serve import run_console  # lazy: start-up speed, only the layers this command runs

    if not args.demo:
        from streams.remediation.service_desk import ServiceDesk  # lazy: start-up speed, as above

        remediation = remediation or RemediationSettings()
        token = settings.approvals_token or remediation.api_token
        if token is None:
            raise ConfigurationError("set PRISMAFLOW_CONSOLE_APPROVALS_TOKEN or PRISMAFLOW_REMEDIATION_API_TOKEN: the "
                                     "console votes through the approval service's API (or run `prismaflow console "
                                     "--demo`)")
        return run_console(settings, ServiceDesk(approvals_url(settings, remediation), token.get_secret_value()))
    from streams.console.demo import demo_desk  # lazy: start-up speed, only the layers this command runs

    return run_console(settings, demo_desk())
