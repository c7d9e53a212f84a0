"""Reading a topic from its beginning to its current end: the one loop that does it.

Start-up state comes from topics: a stateful stage restores a partition from its changelog, the
pollers their checkpoints, the ticket sinks the tickets they opened, ``prismaflow audit verify``
the audit chains. Each reads committed records (``read_committed``) from the low watermark up to
the high watermark it saw when it started, through :func:`read_to_end`; :func:`read_compacted`
folds a compacted topic into its last value per key.

"The end" is the high watermark taken before reading. With transactions that offset may sit on a
commit marker, which is never delivered, so a partition counts as read when the consumer's
*position* reaches it, not when a record with the offset before it arrives.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.settings import KafkaSettings

__all__ = ["end_offsets", "read_compacted", "read_to_end", "watermarks"]

_RETRIABLE = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART,
                        KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TRANSPORT, KafkaError._TIMED_OUT})
_PASSING = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
                      KafkaError._RESOLVE, KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE})
"""Errors a consumer reports while it reconnects on its own: the read goes on until its deadline."""
_BATCH = 5000
_POLL_S = 0.2


def watermarks(consumer: Any, topic: str, partition: int, timeout_s: float = 30.0) -> tuple[int, int]:
    """A partition's (low, high) offsets, waiting out the moments after a topic's creation or a
    leader change when the broker answers "not leader" or "unknown partition"."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or error.code() not in _RETRIABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _partitions_of(consumer: Any, topic: str, timeout_s: float) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise BrokerError(f"cannot read {topic}: {metadata.error if metadata is not None else 'no such topic'}")
    return sorted(metadata.partitions)


def end_offsets(consumer: Any, topic: str, *, timeout_s: float = 30.0) -> dict[int, int]:
    """The high watermark of every partition of ``topic`` (where its next record will go)."""
    return {p: watermarks(consumer, topic, p, timeout_s)[1] for p in _partitions_of(consumer, topic, timeout_s)}


def read_to_end(clients: KafkaClients | KafkaSettings, topic: str, *, partitions: Iterable[int] | None = None,
                timeout_s: float = 60.0, purpose: str = "reader") -> Iterator[Any]:
    """Yield every committed record of ``topic`` (of ``partitions``, default all), oldest first per
    partition, up to the end each partition had when the read began. ``clients`` is the process's
    client factory, or the settings to build one from.

    The records are confluent-kafka messages (``key()``, ``value()``, ``partition()``, ``offset()``,
    ``headers()``). A connection lost on the way is waited out up to ``timeout_s``. Raises
    :class:`~streams.errors.BrokerError` when the topic does not exist, the consumer reports any
    other error, or the end is not reached within ``timeout_s``; a caller rebuilding state discards
    what it read and tries again.
    """
    if isinstance(clients, KafkaSettings):
        clients = KafkaClients(clients)
    consumer = clients.reader(purpose)
    try:
        wanted = sorted(partitions) if partitions is not None else _partitions_of(consumer, topic, timeout_s)
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        for partition in wanted:
            low, high = watermarks(consumer, topic, partition, timeout_s)
            if high > low:
                starts[partition], ends[partition] = low, high
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in ends])
        deadline = time.monotonic() + timeout_s
        pending = set(ends)
        while pending:
            if time.monotonic() > deadline:
                raise BrokerError(f"timed out reading {topic} partitions={sorted(pending)} to their end")
            for message in consumer.consume(_BATCH, _POLL_S):
                error = message.error()
                if error is None:
                    yield message
                elif error.fatal() or error.code() not in _PASSING:
                    raise BrokerError(f"error reading {topic}: {error}")
            for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
    except KafkaException as exc:
        raise BrokerError(f"cannot read {topic}: {exc}") from exc
    finally:
        consumer.close()


def read_compacted(clients: KafkaClients | KafkaSettings, topic: str, *, timeout_s: float = 30.0) -> dict[str, bytes]:
    """A compacted topic read to its end, folded into the last value per (UTF-8) key; a tombstone
    removes its key. Used at start-up to rebuild state (poller checkpoints, ticket state)."""
    state: dict[str, bytes] = {}
    for message in read_to_end(clients, topic, timeout_s=timeout_s, purpose="reader"):
        key = (message.key() or b"").decode()
        value = message.value()
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state
