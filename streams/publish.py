"""Writing records to Kafka with the broker's acknowledgement in hand.

Two publishers, one per need:

- :class:`AsyncPublisher` lets asyncio code (the webhook receiver) ``await`` the broker's
  acknowledgement of every record before it answers its own client. An idempotent producer
  (``enable.idempotence``, ``acks=all``) so retries inside librdkafka never duplicate.
- :class:`TransactionalPublisher` writes a batch of records and a checkpoint in one Kafka
  transaction (the pollers: a page of alerts and the watermark that says it was written), so a crash
  leaves either both or neither.

Both raise :class:`PublishError` when the broker refuses or times out a write; nothing is dropped
silently. Records are Avro-encoded with the project's serde; keys are UTF-8 strings.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from processors.errors import BrokerError
from streams.serde import AvroSerde
from streams.settings import KafkaSettings

__all__ = [
    "OutgoingRecord",
    "Delivery",
    "PublishError",
    "AsyncPublisher",
    "TransactionalPublisher",
    "read_compacted",
    "producer_config",
    "watermarks",
]

log = logging.getLogger(__name__)


class PublishError(BrokerError):
    """The broker did not acknowledge a record (refused, timed out, or the producer is closed)."""


@dataclass(frozen=True)
class OutgoingRecord:
    """One record to write: topic, key, the pydantic record (None: a tombstone), optional headers,
    and an explicit partition where it must match another (changelogs follow their input)."""

    topic: str
    key: str | None
    value: BaseModel | None
    headers: Mapping[str, bytes] = field(default_factory=dict)
    partition: int | None = None


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


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


class _Producer(Protocol):
    def produce(self, topic: str, value: bytes | None = ..., key: bytes | None = ...,
                headers: Any = ..., on_delivery: Any = ...) -> None: ...
    def poll(self, timeout: float = ...) -> int: ...
    def flush(self, timeout: float = ...) -> int: ...


class AsyncPublisher:
    """Produce Avro records from asyncio code and await each record's acknowledgement.

    A background thread serves librdkafka's delivery callbacks and hands each result to the event
    loop that asked. Call :meth:`close` (or use ``async with``) to flush and stop it.
    """

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde, *, producer: _Producer | None = None,
                 config_overrides: Mapping[str, Any] | None = None) -> None:
        from confluent_kafka import Producer

        self._serde = serde
        self._producer: Any = producer or Producer(producer_config(kafka, **dict(config_overrides or {})))
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._serve_callbacks, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _serve_callbacks(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)

    async def send(self, record: OutgoingRecord) -> Delivery:
        """Write one record; return once the broker acknowledged it, else raise PublishError."""
        return (await self.send_many([record]))[0]

    async def send_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        """Write records (in order per partition) and wait for every acknowledgement.

        Raises PublishError naming the first record the broker refused; the others may have been
        written (callers that must not duplicate use idempotent keys downstream).
        """
        if self._closed.is_set():
            raise PublishError("publisher is closed")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Delivery]] = []
        for record in records:
            future: asyncio.Future[Delivery] = loop.create_future()
            futures.append(future)
            value = self._serde.encode(record.value, topic=record.topic) if record.value is not None else None
            self._produce(record, value, self._callback(loop, future))
        results = await asyncio.gather(*futures, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise PublishError(f"{len(failures)} of {len(records)} records not acknowledged: {failures[0]}")
        return [r for r in results if isinstance(r, Delivery)]

    def _produce(self, record: OutgoingRecord, value: bytes | None, callback: Any) -> None:
        from confluent_kafka import KafkaException

        key = record.key.encode() if record.key is not None else None
        headers = list(record.headers.items()) or None
        while True:
            try:
                self._producer.produce(record.topic, value=value, key=key, headers=headers, on_delivery=callback)
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain, then retry
            except KafkaException as exc:
                raise PublishError(f"could not produce to {record.topic}: {exc}") from exc

    @staticmethod
    def _callback(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Delivery]) -> Any:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                outcome: Delivery | BaseException = PublishError(str(err))
            else:
                outcome = Delivery(msg.topic(), msg.partition(), msg.offset())
            loop.call_soon_threadsafe(_settle, future, outcome)

        return on_delivery

    async def close(self, timeout_s: float = 30.0) -> None:
        """Flush what is queued and stop the callback thread."""
        if self._closed.is_set():
            return
        remaining = await asyncio.to_thread(self._producer.flush, timeout_s)
        self._closed.set()
        self._poller.join(timeout=5)
        if remaining:
            raise PublishError(f"{remaining} records still unacknowledged at close")

    async def __aenter__(self) -> AsyncPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _settle(future: asyncio.Future[Delivery], outcome: Delivery | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


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
        from streams.transactions import EncodedRecord, TransactionAborted

        encoded = [EncodedRecord(r.topic, r.key.encode() if r.key is not None else None,
                                 self._serde.encode(r.value, topic=r.topic) if r.value is not None else None,
                                 list(r.headers.items()) or None, r.partition)
                   for r in records]
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
