"""The ``prismaflow dlq list|show|redrive`` command: arguments in, dead letters out.

``--topic`` picks the DLQ topic (default ``<prefix>prisma.dlq``; the webhook's DLQ may be another).
Filters (``--reason``, ``--source``) narrow ``list`` and ``redrive``; ``redrive`` also takes ids and
needs ids, a filter or ``--all``, so that no one redrives the whole queue by mistake.
"""

from __future__ import annotations

import argparse
import sys

from streams.compose import build_serde
from streams.config import PrismaflowSettings
from streams.kafka_clients import KafkaClients
from streams.operator.preflight import require_topics
from streams.operator.dlq import read_dead_letters, render_list, render_one, select
from streams.operator.progress import progress_bar
from streams.operator.redrive import Redriver
from streams.topics import AUDIT, DLQ

__all__ = ["run_dlq"]


def run_dlq(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    """Run ``prismaflow dlq``; exit 1 when ``show`` finds no such id or ``redrive`` refused any."""
    prefix = settings.worker.topic_prefix
    topic = args.topic or prefix + DLQ.name
    clients, serde = KafkaClients(settings.kafka), build_serde(settings)
    require_topics(clients, [topic] if args.action != "redrive" else [topic, prefix + AUDIT.name])
    letters = read_dead_letters(clients, serde, topic)
    if args.action == "show":
        if len(args.ids) != 1:
            print("prismaflow dlq show: name one dead letter id (partition-offset, see dlq list)", file=sys.stderr)
            return 2
        found = list(select(letters, ids=args.ids))
        if not found:
            print(f"prismaflow dlq show: no dead letter {args.ids[0]} on {topic}", file=sys.stderr)
            return 1
        print(render_one(found[0], serde, prefix), end="")
        return 0
    chosen = list(select(letters, ids=args.ids, reason=args.reason, source=args.source))
    if args.action == "list":
        print(render_list(chosen, as_json=args.json), end="")
        return 0
    if not (args.ids or args.reason or args.source or args.all):
        print("prismaflow dlq redrive: name ids, --reason, --source or --all", file=sys.stderr)
        return 2
    redriver = Redriver(clients, serde, prefix=prefix, audit_topic=prefix + AUDIT.name,
                        transactional_id=f"{settings.worker.group_prefix}.dlq-redrive",
                        signer=settings.audit.signer())
    try:
        with progress_bar("redrive", total=len(chosen)) as advance:
            outcomes = redriver.redrive(chosen, progress=advance)
    finally:
        redriver.close()
    for outcome in outcomes:
        print(f"{outcome.outcome:9} {outcome.id:10} {outcome.detail}")
    counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in ("redriven", "skipped", "refused")}
    print(f"{counts['redriven']} redriven, {counts['skipped']} already redriven, {counts['refused']} refused")
    return 1 if counts["refused"] else 0
