"""The loop every sink runs in: at-least-once delivery into an outside system, offsets last.

A :class:`SinkWorker` consumes a batch, decodes it and hands the records to its :class:`Sink`. It
commits the consumed offsets only after the sink confirmed the whole batch (the far side
acknowledged). Failures are sorted by what they mean:

- *back-pressure* from the outside system (the port's :class:`~connectors.ports.TargetUnavailableError`:
  an outage, a 503, a 429, a timeout after the connector's own retries) **pauses** consumption: the
  worker rewinds to the first record not confirmed, waits the ``retry_after_s`` the system asked
  for (capped at ``pause_max_s``) or else a jittered backoff, and tries again, for as long as the
  outage lasts; nothing is dropped, nothing is skipped, the process does not crash;
- a *terminal* failure of one record (a record the system refuses, a record that cannot be
  decoded) comes back from the sink as a :class:`DeliveryFailure` and goes to the dead-letter topic
  with the response, and the batch goes on; never retried forever;
- anything else (the port's ``TargetUnusableError``: credentials rejected) stops the worker with
  its offsets uncommitted.

The worker knows only those port signals (:mod:`connectors.ports`), never an HTTP error class: each
adapter translates its own errors at its boundary.

Sinks must be idempotent (the tracker sinks look a fingerprint up before creating), because after a
crash the records since the last commit are delivered again.

A sink may hold records back (the ticket sink parks a new ticket until its analysis arrives): it then
offers ``held_offsets()`` ((topic, partition) -> the first offset it has not finished) and
``has_pending()``. The worker commits such a partition only up to the held offset, so a restart
delivers the held record again, and while anything is pending it calls ``deliver`` with an empty
batch after each empty poll, so that a hold can end without new traffic.

A *broker* outage is ridden out the same way: the records a sink wants written after a delivery
(ticket state, audit records) are never given up by the producer (no message timeout), so the worker
waits until the broker acknowledged them rather than writing them twice; an offset commit that
fails for want of a broker is retried; one log line per interval says how long it has lasted.
:meth:`SinkWorker.stop` ends every wait within half a second, committing nothing it did not confirm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel

from connectors.ports import OutgoingRecord, TargetUnavailableError
from processors.errors import PrismaflowError
from streams.dlq import dead_letter
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.metrics import HEALTH
from streams.outage import CallTimedOut, OutageLog, Stopping, call_with_deadline
from streams.serde import AvroSerde
from streams.settings import KafkaSettings

__all__ = ["SinkRecord", "Sink", "SinkWorker", "SinkOptions", "DeliveryFailure", "pause_before_retry"]

log = logging.getLogger(__name__)

DELIVERIES = Counter("prismaflow_sink_deliveries_total", "Records delivered by sink and outcome", ["sink", "outcome"])
DELIVERY_SECONDS = Histogram("prismaflow_sink_delivery_seconds", "Time to deliver one batch", ["sink"],
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RETRIES = Counter("prismaflow_sink_retries_total", "Batches retried after a transient failure", ["sink"])
PAUSED = Gauge("prismaflow_sink_paused", "1 while a sink waits out an outage", ["sink"])

M = TypeVar("M", bound=BaseModel)


_MOVED = frozenset({KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION,
                    KafkaError.UNKNOWN_MEMBER_ID, KafkaError.FENCED_INSTANCE_ID, KafkaError._ASSIGNMENT_LOST,
                    KafkaError._STATE})
"""Commit errors that mean the partitions moved to another member (a rebalance)."""


@dataclass(frozen=True)
class SinkRecord(Generic[M]):
    """One decoded record with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: M
    raw: bytes


@dataclass(frozen=True)
class DeliveryFailure:
    """A record the outside system refused for good: it goes to the dead-letter topic."""

    record: SinkRecord[Any]
    error: BaseException


class Sink(Protocol):
    """Delivers batches to one outside system.

    ``deliver`` returns the records it gave up on for good (terminal failures); it raises
    :class:`~connectors.ports.TargetUnavailableError` when the system is unavailable, and the
    worker retries the whole batch later. ``extra_outputs`` are records the sink wants written to Kafka
    after a successful delivery (ticket state, audit records) before the offsets are committed.
    """

    name: str
    topics: Sequence[str]
    models: dict[str, type[BaseModel]]

    async def start(self) -> None: ...

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]: ...

    async def close(self) -> None: ...


@dataclass
class SinkOptions:
    group_id: str
    max_batch: int = 200
    poll_timeout_s: float = 0.2
    dlq_topic: str = "prisma.dlq"
    pause_base_s: float = 1.0
    pause_max_s: float = 30.0
    consumer_overrides: dict[str, Any] = field(default_factory=dict)


def pause_before_retry(options: SinkOptions, attempt: int, signal: TargetUnavailableError,
                       rng: Callable[[], float] = random.random) -> float:
    """Seconds to pause before delivering a batch again after ``attempt`` failed ones (0 first):
    the wait the target asked for (``signal.retry_after_s``), capped at ``pause_max_s``, or else a
    full-jitter exponential backoff, ``uniform(0, min(pause_max_s, pause_base_s * 2**attempt))``."""
    if signal.retry_after_s is not None:
        return min(max(signal.retry_after_s, 0.0), options.pause_max_s)
    return rng() * min(options.pause_max_s, options.pause_base_s * 2.0 ** attempt)


class SinkWorker:
    """Runs one sink until :meth:`stop`."""

    def __init__(self, kafka: KafkaSettings | KafkaClients, serde: AvroSerde, sink: Sink, options: SinkOptions,
                 *, sleep: Any = asyncio.sleep) -> None:
        clients = kafka if isinstance(kafka, KafkaClients) else KafkaClients(kafka)
        self.kafka, self.serde, self.sink, self.options = clients.settings, serde, sink, options
        self._sleep = sleep
        self._stop = threading.Event()
        # message.timeout.ms 0: librdkafka never fails a queued record for taking long; an outage
        # delays the acknowledgement instead of tempting us to write the record a second time.
        self.producer = clients.producer(**{"message.timeout.ms": 0})
        self._outage = OutageLog(log, f"sink {sink.name}")
        self.consumer = clients.consumer(options.group_id, **options.consumer_overrides)
        self._decoders = {topic: serde.deserializer(model, topic) for topic, model in sink.models.items()}
        self._joined = False

    @property
    def joined(self) -> bool:
        """True once the group has given this worker its assignment (read by the readiness check)."""
        return self._joined

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self._joined = True  # the client assigns ``partitions`` itself after this callback

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        asyncio.run(self.run_async())

    async def run_async(self) -> None:
        await self.sink.start()
        self.consumer.subscribe(list(self.sink.topics), on_assign=self._on_assign)
        try:
            while not self._stop.is_set():
                HEALTH.beat()
                messages = await asyncio.to_thread(self.consumer.consume, self.options.max_batch,
                                                   self.options.poll_timeout_s)
                batch = [m for m in messages if m.error() is None]
                if batch or self._pending():
                    await self._process(batch)
        except Stopping:
            log.info("sink stopped while waiting sink=%s; the batch in hand is not committed", self.sink.name)
        finally:
            await self.sink.close()
            await asyncio.to_thread(self._close_clients)

    def _close_clients(self) -> None:
        try:
            call_with_deadline(self.consumer.close, 10.0, what="consumer.close")
        except CallTimedOut:
            log.warning("consumer close did not finish sink=%s", self.sink.name)
        remaining = self.producer.flush(5)
        if remaining:
            log.warning("records unacknowledged at close sink=%s count=%d", self.sink.name, remaining)

    async def _process(self, messages: list[Any]) -> None:
        records: list[SinkRecord[Any]] = []
        dead: list[OutgoingRecord] = []
        for message in messages:
            try:
                value = self._decoders[message.topic()](message.value())
            except PrismaflowError as exc:
                dead.append(self._dead(message.topic(), message.partition(), message.offset(), message.key(),
                                       message.value(), exc))
                continue
            records.append(SinkRecord(message.topic(), message.partition(), message.offset(), message.key(),
                                      value, message.value()))
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                failures, extra = await self._deliver_unless_stopped(records)
                break
            except TargetUnavailableError as exc:
                discard = getattr(self.sink, "discard_uncommitted", None)
                if callable(discard):
                    discard()  # what the failed delivery made (audit records) is never written
                if self._stop.is_set():
                    raise Stopping(f"sink {self.sink.name} stopped during an outage; offsets not committed") from exc
                wait = pause_before_retry(self.options, attempt, exc)
                attempt += 1
                RETRIES.labels(self.sink.name).inc()
                PAUSED.labels(self.sink.name).set(1)
                log.warning("sink paused sink=%s attempt=%d wait_s=%.1f error=%s", self.sink.name, attempt, wait, exc)
                self.consumer.pause(self.consumer.assignment())
                await self._pause(wait)
                self.consumer.resume(self.consumer.assignment())
            finally:
                DELIVERY_SECONDS.labels(self.sink.name).observe(time.perf_counter() - started)
        PAUSED.labels(self.sink.name).set(0)
        for failure in failures:
            r = failure.record
            dead.append(self._dead(r.topic, r.partition, r.offset, r.key, r.raw, failure.error))
        DELIVERIES.labels(self.sink.name, "delivered").inc(len(records) - len(failures))
        DELIVERIES.labels(self.sink.name, "dead_letter").inc(len(dead))
        await asyncio.to_thread(self._write, extra + dead)
        await asyncio.to_thread(self._commit)

    async def _deliver_unless_stopped(self, records: list[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        """The sink's delivery of a batch, cancelled when stop() is asked for in the middle of it.

        A batch can take long (hundreds of tracker calls); shutting down must not wait for it. What
        was delivered before the cancellation is delivered again after the restart, since no offset
        moved, and the sinks are idempotent.
        """
        delivery = asyncio.ensure_future(self.sink.deliver(records))
        while not delivery.done():
            HEALTH.beat()  # a long batch is work, not a stuck loop
            await asyncio.wait({delivery}, timeout=0.2)
            if self._stop.is_set() and not delivery.done():
                delivery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await delivery
                raise Stopping(f"sink {self.sink.name} stopped in the middle of a batch; offsets not committed")
        return delivery.result()

    async def _pause(self, wait_s: float) -> None:
        """Sleep ``wait_s`` (through the injectable sleep), in slices so that stop() is seen."""
        remaining = wait_s
        while remaining > 0:
            if self._stop.is_set():
                raise Stopping(f"sink {self.sink.name} stopped while paused")
            HEALTH.beat()  # waiting out an outage is deliberate; readiness reports it instead
            step = min(0.5, remaining)
            await self._sleep(step)
            remaining -= step

    def _pending(self) -> bool:
        """Whether the sink holds records back (see the module docstring)."""
        has_pending = getattr(self.sink, "has_pending", None)
        return bool(has_pending()) if callable(has_pending) else False

    def _offsets(self) -> list[TopicPartition] | None:
        """The offsets to commit when the sink holds records back: each partition's position, capped
        at the sink's held offset; None when nothing is held (commit every position)."""
        held_offsets = getattr(self.sink, "held_offsets", None)
        held: dict[tuple[str, int], int] = held_offsets() if callable(held_offsets) else {}
        if not held:
            return None
        offsets = []
        for position in self.consumer.position(self.consumer.assignment()):
            if position.offset < 0:
                continue  # nothing consumed on this partition yet
            hold = held.get((position.topic, position.partition))
            offsets.append(TopicPartition(position.topic, position.partition,
                                          position.offset if hold is None else min(hold, position.offset)))
        return offsets

    def _commit(self) -> None:
        """Commit the consumed offsets (capped at the sink's held ones), waiting out a broker that is away.

        A commit refused because the partitions moved to another member (a rebalance) is dropped:
        the new owner delivers those records again, and the sinks are idempotent.
        """
        while True:
            try:
                offsets = self._offsets()
                if offsets is None:
                    self.consumer.commit(asynchronous=False)
                elif offsets:
                    self.consumer.commit(offsets=offsets, asynchronous=False)
                self._outage.recovered()
                return
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                code = error.code() if isinstance(error, KafkaError) else None
                if code == KafkaError._NO_OFFSET:
                    return
                if code in _MOVED:
                    log.warning("offsets not committed, partitions moved sink=%s error=%s", self.sink.name, error)
                    return
                self._outage.failing(error)
                if self._stop.wait(0.5):
                    raise Stopping(f"sink {self.sink.name} stopped before its offsets were committed") from exc

    def _dead(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
              error: BaseException) -> OutgoingRecord:
        return dead_letter(stage=f"sink.{self.sink.name}", error=error, original_topic=topic,
                           original_partition=partition, original_offset=offset, original_key=key,
                           original_value=value, dlq_topic=self.options.dlq_topic)

    def _write(self, records: list[OutgoingRecord]) -> None:
        """Write records and wait for every acknowledgement before offsets move."""
        if not records:
            return
        errors: list[str] = []

        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        for record in records:
            value = self.serde.encode(record.value, topic=record.topic) if record.value is not None else None
            while True:
                try:
                    self.producer.produce(record.topic, value=value, key=record.key.encode() if record.key else None,
                                          headers=list(record.headers.items()) or None, on_delivery=on_delivery)
                    break
                except BufferError:
                    self.producer.poll(0.1)  # local queue full (a long outage): let it drain
                    if self._stop.is_set():
                        raise Stopping(f"sink {self.sink.name} stopped while its producer queue was full") from None
        while (remaining := self.producer.flush(0.5)) > 0:
            self._outage.failing(f"{remaining} records waiting for the broker's acknowledgement")
            if self._stop.is_set():
                raise Stopping(f"sink {self.sink.name} stopped with {remaining} records unacknowledged")
        self._outage.recovered()
        if errors:
            raise BrokerError(f"sink {self.sink.name}: the broker refused records: {errors[:3]}")
