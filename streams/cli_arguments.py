"""The arguments of each ``prismaflow`` command (:func:`streams.cli.build_parser` builds the parser)."""

from __future__ import annotations

import argparse
from datetime import datetime

from streams.operator.dlq_args import add_arguments as add_dlq_arguments

__all__ = ["DEV_OPTIONS", "add_command_arguments"]

DEV_OPTIONS = ("bench", "chaos")
"""Development commands whose options come from their tool in :mod:`streams.devtools`."""


def add_command_arguments(name: str, command: argparse.ArgumentParser, *, dev_options: bool) -> None:
    """Add command ``name``'s arguments to its sub-parser ``command``; the development commands'
    options only with ``dev_options`` (they import their tool)."""
    if name in ("broker", "registry"):
        command.add_argument("action", choices=["start", "stop", "status"])
    elif name == "topics":
        command.add_argument("action", choices=["create", "list"])
        command.add_argument("--json", action="store_true", help="list: print the broker's view as JSON")
    elif name == "schemas":
        command.add_argument("action", choices=["register", "check"])
    elif name == "audit":
        command.add_argument("action", choices=["verify", "keygen"],
                             help="verify: check signatures, chains and gaps; keygen: make a signing key")
        command.add_argument("--topic", default=None,
                             help="audit topic (default: <PRISMAFLOW_WORKER_TOPIC_PREFIX>prisma.audit)")
        command.add_argument("--key-id", default=None, help="keygen: the new key's id (lower case)")
        command.add_argument("--out", default=None, help="keygen: the file to write the secret key to (mode 600)")
    elif name == "config":
        command.add_argument("--reference", action="store_true",
                             help="print the configuration reference instead (every setting, its variable, its default)")
        command.add_argument("--json", action="store_true", help="print the effective settings as JSON")
    elif name == "feeds":
        command.add_argument("action", choices=["refresh", "status"])
    elif name == "run":
        command.add_argument("stage", choices=["core", "normalise", "score", "analyse", "remediate", "execute"])
    elif name == "sink":
        command.add_argument("name", help="jira, servicenow, splunk, syslog, siem, chat")
    elif name in DEV_OPTIONS and dev_options:
        _dev_arguments(name, command)
    elif name == "report":
        command.add_argument("report", choices=["shadow"])
        command.add_argument("--since", type=datetime.fromisoformat, help="only alerts scored from this ISO time")
        command.add_argument("--until", type=datetime.fromisoformat, help="only alerts scored before this ISO time")
        command.add_argument("--json", action="store_true", help="print the report as JSON")
    elif name == "console":
        command.add_argument("action", nargs="?", choices=["serve", "hash-password"], default="serve",
                             help="hash-password: print the argon2 hash of a password read from stdin")
        command.add_argument("--demo", action="store_true",
                             help="serve over an in-memory desk with sample requests (not the approval service)")
    elif name == "replay":
        command.add_argument("--from", dest="from_time", required=True, metavar="TIME",
                             help="start of the range, ISO 8601 (UTC unless an offset is given)")
        command.add_argument("--to", dest="to_time", metavar="TIME", help="end of the range (default: now)")
    elif name == "dlq":
        add_dlq_arguments(command)
    elif name == "sync":
        command.add_argument("tracker", choices=["jira", "servicenow"])
    elif name == "eval":
        command.add_argument("target", nargs="?", choices=["analysis", "tiers"],
                             help="only this evaluation (default: both)")
        command.add_argument("--llm-simulator", action="store_true",
                             help="analysis: analyse through the real openai client against the local LLM simulator")
        command.add_argument("--json", action="store_true", help="print the report(s) as JSON")
        command.add_argument("--data", help="with a target: its labelled set (analysis: JSON lines; tiers: "
                                            "scenario YAML); default: the shipped set")


def _dev_arguments(name: str, command: argparse.ArgumentParser) -> None:
    """Add the options of development command ``name`` (imports its tool, so only when it runs)."""
    if name == "bench":
        from streams.devtools.bench import add_arguments  # lazy: start-up speed, only the layers this command runs
    else:
        from streams.devtools.chaos import add_arguments  # lazy: start-up speed, only the layers this command runs
    add_arguments(command)
