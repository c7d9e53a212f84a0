"""``prismaflow console [serve|hash-password] [--demo]``."""

from __future__ import annotations

import argparse
import getpass
import sys

from processors.errors import ConfigurationError
from streams.console.settings import ConsoleSettings
from streams.remediation.settings import RemediationSettings

__all__ = ["console_command"]


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

        if remediation is None or remediation.api_token is None:
            raise ConfigurationError("set PRISMAFLOW_REMEDIATION_API_TOKEN: the console votes through the approval "
                                     "service's API (or run `prismaflow console --demo`)")
        service = f"http://{remediation.service_host}:{remediation.service_port}"
        return run_console(settings, ServiceDesk(service, remediation.api_token.get_secret_value()))
    from streams.console.demo import demo_desk  # lazy: start-up speed, only the layers this command runs

    return run_console(settings, demo_desk())
