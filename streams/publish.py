"""Writing records to Kafka with the broker's acknowledgement in hand.

Two publishers, one per need:

- :class:`streams.async_publish.AsyncPublisher` lets asyncio code (the webhook receiver) ``await``
  an all-or-nothing write of a request's records (one transaction) within a bounded time.
- :class:`TransactionalPublisher` writes a batch of records and a checkpoint in one Kafka
  transaction (the pollers: a page of alerts and the watermark that says it was written), so a crash
  leaves either both or neither.

Both raise :class:`PublishError` when the broker refuses or times out a write; nothing is dropped
silently. Records are Avro-encoded with the project's serde; keys are UTF-8 strings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.ports import OutgoingRecord, PublishFailedError
from streams.errors import BrokerError
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.transactions import EncodedRecord

__all__ = [
    "OutgoingRecord",
    "encode_record",
    "Delivery",
    "PublishError",
    "TransactionalPublisher",
    "read_compacted",
    "producer_config",
    "watermarks",
]

log = logging.getLogger(__name__)


class PublishError(BrokerError, PublishFailedError):
    """The broker did not acknowledge a record (refused, timed out, or the producer is closed).

    Also the ports' :class:`~connectors.ports.PublishFailedError`, which is all a connector sees."""


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


def encode_record(serde: AvroSerde, record: OutgoingRecord) -> EncodedRecord:
    """``record`` as Kafka gets it: Avro value (None stays a tombstone), UTF-8 key, header list."""
    value = serde.encode(record.value, topic=record.topic) if record.value is not None else None
    return EncodedRecord(record.topic, record.key.encode() if record.key is not None else None, value,
                         list(record.headers.items()) or None, record.partition)


def producer_config(kafka: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """Producer settings for durable, ordered, duplicate-free writes."""
    config: dict[str, Any] = kafka.client_config()
    config.update({
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "zstd",
        "message.timeout.ms": 30000,
    })
    config.update(overrides)
    return config


class TransactionalPublisher:
    """Write a batch of records atomically (one Kafka transaction): all become visible, or none.

    ``transactional_id`` must be stable per logical writer (e.g. ``prismaflow-cspm-poller``): a
    restarted writer with the same id fences its dead predecessor and aborts its open transaction.
    Blocking; asyncio callers run :meth:`publish` in a thread (``asyncio.to_thread``). A broker
    outage is waited out inside :meth:`publish` (see :class:`streams.transactions.TransactionalProducer`);
    ``stop`` ends that wait.
    """

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde, transactional_id: str,
                 *, timeout_s: float = 30.0, stop: threading.Event | None = None) -> None:
        from streams.transactions import TransactionalProducer

        self._serde = serde
        self._transactions = TransactionalProducer(
            producer_config(kafka, **{"transactional.id": transactional_id, "retry.backoff.ms": 10}),
            timeout_s=timeout_s, init_timeout_s=timeout_s, stop=stop)

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Write every record in one transaction; raise PublishError (nothing written) on failure."""
        from streams.transactions import TransactionAborted

        encoded = [encode_record(self._serde, r) for r in records]
        try:
            self._transactions.commit(encoded)
        except TransactionAborted as exc:
            raise PublishError(f"transaction of {len(records)} records aborted, nothing written: {exc}") from exc

    def close(self) -> None:
        self._transactions.close()


def watermarks(consumer: Any, topic: str, partition: int, timeout_s: float = 30.0) -> tuple[int, int]:
    """A partition's (low, high) offsets, waiting out the moments after a topic's creation or a
    leader change when the broker answers "not leader" or "unknown partition"."""
    import time

    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    retriable = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART,
                 KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TRANSPORT, KafkaError._TIMED_OUT}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or error.code() not in retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_compacted(kafka: KafkaSettings, topic: str, *, timeout_s: float = 30.0) -> dict[str, bytes]:
    """Read a compacted topic from the beginning to its current end; return the last value per key.

    Used at start-up to rebuild state (poller checkpoints, ticket state). Tombstones remove keys.
    Only committed transactional writes are seen (``isolation.level=read_committed``).
    """
    import time

    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({
        **kafka.client_config(),
        "group.id": f"prismaflow-reader-{threading.get_ident()}-{time.monotonic_ns()}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    })
    state: dict[str, bytes] = {}
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s)
        if metadata.topics[topic].error is not None:
            raise BrokerError(f"cannot read {topic}: {metadata.topics[topic].error}")
        partitions = [TopicPartition(topic, p) for p in metadata.topics[topic].partitions]
        ends: dict[int, int] = {}
        for tp in partitions:
            low, high = watermarks(consumer, topic, tp.partition, timeout_s)
            if high > low:
                ends[tp.partition] = high
        if not ends:
            return state
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        deadline = time.monotonic() + timeout_s
        done: set[int] = set()
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise BrokerError(f"timed out reading {topic} to its end")
            message = consumer.poll(0.5)
            if message is None:
                # With transactions the end offset may sit on a commit marker: check positions.
                for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                    if tp.offset >= ends[tp.partition]:
                        done.add(tp.partition)
                continue
            if message.error() is not None:
                raise BrokerError(f"error reading {topic}: {message.error()}")
            key = (message.key() or b"").decode()
            value = message.value()
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
            partition, offset = int(message.partition() or 0), int(message.offset() or 0)
            if offset + 1 >= ends[partition]:
                done.add(partition)
    except KafkaException as exc:
        raise BrokerError(f"cannot read {topic}: {exc}") from exc
    finally:
        consumer.close()
    return state
