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

from connectors.ports import OutgoingRecord, PublishFailedError
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.transactions import EncodedRecord, TransactionAborted, TransactionalProducer

__all__ = [
    "OutgoingRecord",
    "encode_record",
    "Delivery",
    "PublishError",
    "TransactionalPublisher",
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


class TransactionalPublisher:
    """Write a batch of records atomically (one Kafka transaction): all become visible, or none.

    ``transactional_id`` must be stable per logical writer (e.g. ``prismaflow-cspm-poller``): a
    restarted writer with the same id fences its dead predecessor and aborts its open transaction.
    Blocking; asyncio callers run :meth:`publish` in a thread (``asyncio.to_thread``). A broker
    outage is waited out inside :meth:`publish` (see :class:`streams.transactions.TransactionalProducer`);
    ``stop`` ends that wait.
    """

    def __init__(self, kafka: KafkaSettings | KafkaClients, serde: AvroSerde, transactional_id: str,
                 *, timeout_s: float = 30.0, stop: threading.Event | None = None) -> None:
        clients = kafka if isinstance(kafka, KafkaClients) else KafkaClients(kafka)
        self._serde = serde
        self._transactions = TransactionalProducer(
            clients.producer_config(**{"transactional.id": transactional_id, "retry.backoff.ms": 10}),
            timeout_s=timeout_s, init_timeout_s=timeout_s, stop=stop, factory=clients.new_producer)

    def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Write every record in one transaction; raise PublishError (nothing written) on failure."""
        encoded = [encode_record(self._serde, r) for r in records]
        try:
            self._transactions.commit(encoded)
        except TransactionAborted as exc:
            raise PublishError(f"transaction of {len(records)} records aborted, nothing written: {exc}") from exc

    def close(self) -> None:
        self._transactions.close()
