"""``prismaflow replay --from TIME [--to TIME]``: re-triage a time range of alerts through today's
scoring and analysis, without reopening or duplicating a ticket.

Design. The raw alerts of the range (by record timestamp: ``offsets_for_times``) are re-published
to ``prisma.alerts.raw`` unchanged, with their key, their headers and a ``prismaflow-replay`` header,
so they go through the running pipeline like any record — nothing is scored outside the core, and
nothing writes tickets besides the sinks. The header asks the fused core to score the record again
when it is the version dedupe accepted last (:func:`processors.graph.step.step_alert`, ``rescore``):
it goes downstream as a ``RECURRENCE`` update, the analysis stage sees it like any scored alert, and
the ticket sinks decide on it with the ticket state of its fingerprint (``prisma.tickets``), which
gives an update when the priority changed under the current policy and nothing otherwise, never a
second ticket. A replayed version older than the one accepted since (an alert resolved after the
range) is dropped by dedupe as every stale copy is, so a replay never reopens what was resolved.

What is replayed: every raw alert of the range once (the core's own asset-graph messages are not,
and a record that is already a replay's copy is not: its original is what counts; a record the core
re-keyed appears twice on the raw topic with the same bytes, and is replayed once). The records are
written in transactions of a few hundred, under one ``transactional.id`` per deployment. The split
``normalise``/``score`` topology does not read the header: there, replayed records are re-observations
that dedupe drops.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from streams.config import PrismaflowSettings
from streams.core_stage import REPLAY_HEADER, is_link
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.operator.preflight import require_topics
from streams.operator.progress import progress_bar
from streams.topic_reader import end_offsets
from streams.topics import RAW_ALERTS
from streams.transactions import EncodedRecord, TransactionalProducer

__all__ = ["ReplaySummary", "parse_time", "read_range", "replay_range", "run_replay"]

log = logging.getLogger(__name__)

_BATCH = 500
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay did: records read in the range, re-published, and left out (and why)."""

    replay_id: str
    read: int
    republished: int
    links: int
    replay_copies: int
    same_bytes: int


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-12-06T10:00``, ``2026-12-06T10:00:00+01:00``, ``2026-12-06``); UTC when
    it names no offset."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-06T10:00:00Z)") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_range(clients: KafkaClients, topic: str, start: datetime, end: datetime | None) -> Iterator[Any]:
    """The committed records of ``topic`` whose timestamp is in [``start``, ``end``) (no ``end``: up to
    the end each partition had when the read began), oldest first per partition."""
    reader = clients.reader("replay")
    try:
        ends = end_offsets(reader, topic, timeout_s=_TIMEOUT_S)
        start_ms = int(start.timestamp() * 1000)
        end_ms = int(end.timestamp() * 1000) if end is not None else None
        firsts = reader.offsets_for_times([TopicPartition(topic, p, start_ms) for p in ends], timeout=_TIMEOUT_S)
        starts = {tp.partition: tp.offset for tp in firsts if 0 <= tp.offset < ends[tp.partition]}
        if end_ms is not None and starts:
            lasts = reader.offsets_for_times([TopicPartition(topic, p, end_ms) for p in starts], timeout=_TIMEOUT_S)
            ends.update({tp.partition: tp.offset for tp in lasts if tp.offset >= 0})
        pending = {p for p, offset in starts.items() if offset < ends[p]}
        if not pending:
            return
        reader.assign([TopicPartition(topic, p, starts[p]) for p in pending])
        while pending:
            for message in reader.consume(_BATCH, 0.5):
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise BrokerError(f"error reading {topic}: {error}")
                    continue
                stamp = message.timestamp()[1]
                if message.offset() < ends[message.partition()] and stamp >= start_ms and (
                        end_ms is None or stamp < end_ms):
                    yield message
            for tp in reader.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
    finally:
        reader.close()


def replay_range(clients: KafkaClients, raw_topic: str, start: datetime, end: datetime | None, *,
                 transactional_id: str, progress: Callable[[int], None] = lambda _: None) -> ReplaySummary:
    """Re-publish the raw alerts of [``start``, ``end``) to ``raw_topic`` with the replay header."""
    replay_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    transactions = TransactionalProducer(clients.producer_config(**{"transactional.id": transactional_id}),
                                         factory=clients.new_producer)
    seen: set[bytes] = set()
    read = links = copies = same = 0
    batch: list[EncodedRecord] = []
    try:
        for message in read_range(clients, raw_topic, start, end):
            read += 1
            progress(1)
            headers = list(message.headers() or [])
            named = dict(headers)
            if is_link(named):
                links += 1
                continue
            if REPLAY_HEADER in named:
                copies += 1
                continue
            digest = hashlib.sha256(message.value() or b"").digest()
            if digest in seen:
                same += 1
                continue
            seen.add(digest)
            batch.append(EncodedRecord(raw_topic, message.key(), message.value(),
                                       [*headers, (REPLAY_HEADER, replay_id.encode())]))
            if len(batch) >= _BATCH:
                transactions.commit(batch)
                batch = []
        if batch:
            transactions.commit(batch)
    finally:
        transactions.close()
    summary = ReplaySummary(replay_id, read, len(seen), links, copies, same)
    log.info("replayed replay_id=%s read=%d republished=%d", replay_id, read, len(seen))
    return summary



def run_replay(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    """``prismaflow replay``: parse the range, check the raw topic exists, replay, print the summary."""
    try:
        start = parse_time(args.from_time)
        end = parse_time(args.to_time) if args.to_time else None
    except ValueError as exc:
        print(f"prismaflow replay: error: {exc}", file=sys.stderr)
        return 2
    if end is not None and end <= start:
        print(f"prismaflow replay: error: --to ({end.isoformat()}) must be after --from ({start.isoformat()})",
              file=sys.stderr)
        return 2
    raw_topic = settings.worker.topic_prefix + RAW_ALERTS.name
    clients = KafkaClients(settings.kafka)
    require_topics(clients, [raw_topic])
    with progress_bar("replay (records read)") as advance:
        summary = replay_range(clients, raw_topic, start, end,
                               transactional_id=f"{settings.worker.group_prefix}.replay", progress=advance)
    print(f"replay {summary.replay_id}: {summary.republished} raw alerts re-published to {raw_topic} for re-triage "
          f"({summary.read} records read from {start.isoformat()} to {end.isoformat() if end else 'now'}; left out: "
          f"{summary.links} asset-graph messages, {summary.replay_copies} earlier replay copies, "
          f"{summary.same_bytes} re-keyed copies)")
    return 0
