"""The options of ``prismaflow dlq``, apart from the command so that building the parser loads nothing
else (see :mod:`streams.operator.dlq_command` for what they do)."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments"]


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The options of ``prismaflow dlq``."""
    command.add_argument("action", choices=["list", "show", "redrive"])
    command.add_argument("ids", nargs="*", metavar="ID", help="show: one id; redrive: the ids to redrive (partition-offset)")
    command.add_argument("--topic", help="DLQ topic (default: <PRISMAFLOW_WORKER_TOPIC_PREFIX>prisma.dlq)")
    command.add_argument("--reason", help="only dead letters whose error class or message contains this text")
    command.add_argument("--source", help="only dead letters from this original topic (full name)")
    command.add_argument("--all", action="store_true", help="redrive: every dead letter (after the filters)")
    command.add_argument("--json", action="store_true", help="list: JSON instead of a table")
