"""``prismaflow console [serve|hash-password] [--demo]``."""

from __future__ import annotations

import argparse
import getpass
import sys

from processors.errors import ConfigurationError
from streams.console.settings import ConsoleSettings

__all__ = ["console_command"]


def console_command(args: argparse.Namespace, settings: ConsoleSettings) -> int:
    """Serve the console, or print the argon2 hash of a password for the user store."""
    if args.action == "hash-password":
        from streams.console.users import hash_password  # lazy: start-up speed, only the layers this command runs

        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        if not password:
            raise ConfigurationError("empty password")
        print(hash_password(password))
        return 0
    if not args.demo:
        # The approval service (streams/remediation) provides the real desk; it is wired here once merged.
        raise ConfigurationError("the approval service's desk is not part of this build yet: "
                                 "`prismaflow console --demo` serves an in-memory desk with sample requests")
    from streams.console.demo import demo_desk  # lazy: start-up speed, only the layers this command runs
    from streams.console.serve import run_console  # lazy: start-up speed, only the layers this command runs

    return run_console(settings, demo_desk())
