"""The consume-process-produce loop every stream stage runs in, exactly once per input record.

A :class:`TransactionalWorker` reads a batch from its input topic, hands each decoded record to its
:class:`Stage`, and writes the stage's outputs, its state changes (changelog) and the consumed
offsets in **one Kafka transaction**. A crash at any point (SIGKILL included) aborts the open
transaction: the restarted worker re-reads from the last committed offsets and rebuilds its state
from the committed changelog, so downstream consumers (``read_committed``) see every result once.

A record that cannot be decoded, processed or encoded goes to the dead-letter topic inside the
same transaction, with the error, stage, topic, partition, offset and original bytes, and processing
goes on: no record can stop a partition. Encoding happens once per batch after the changelog is
coalesced; when one output of a batch cannot be encoded, the batch is rolled back and processed
again one record per transaction, so the record at fault is dead-lettered and the state it changed
is restored from the committed changelog.

The broker going away is not an error of the worker. The transaction layer
(:class:`streams.transactions.TransactionalProducer`) retries for as long as an outage lasts, logging
once per interval; when a transaction is aborted (the broker timed it out, a rebalance moved a
partition, a call was stuck and its producer replaced), the worker seeks back to the batch's first
offsets, restores the state of those partitions from the committed changelog and processes the
batch again. :meth:`TransactionalWorker.stop` (SIGTERM) ends every wait within half a second.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from processors.errors import SerializationError
from streams import metrics
from streams.dlq import dead_letter
from streams.errors import BrokerError
from streams.outage import CallTimedOut, OutageLog, Stopping, call_with_deadline
from streams.publish import OutgoingRecord, encode_record, producer_config
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.transactions import EncodedRecord, TransactionAborted, TransactionalProducer

__all__ = ["InputMessage", "Stage", "TransactionalWorker", "WorkerOptions", "StateRestorer"]

log = logging.getLogger(__name__)

_FREEZE_INTERVAL_S = 1.0  # see TransactionalWorker._freeze_long_lived

In = TypeVar("In", bound=BaseModel)
InT = TypeVar("InT", bound=BaseModel)


@dataclass(frozen=True)
class InputMessage:
    """Where a consumed record came from, with its original bytes (for the dead-letter topic)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    timestamp_ms: int


StateRestorer = Iterable[tuple[bytes, bytes | None]]
"""The committed changelog of one partition, oldest first: (key, value or None for a tombstone)."""


class Stage(Protocol[In]):
    """One processing step. Pure logic lives in ``processors/``; a stage adapts it to records.

    ``handle`` returns the records to write (outputs, and changelog records carrying an explicit
    partition equal to the input partition). It raises for a record it cannot process; the worker
    dead-letters that record. A stateful stage must not change its state before it knows it
    succeeds (compute the new state, then keep it).

    A stage whose input topic carries more than one record type may also define
    ``decode(message: InputMessage) -> record``; the worker then calls it instead of decoding
    ``input_model`` (the fused core reads its own asset-graph messages from the raw topic).
    """

    name: str
    input_topic: str
    input_model: type[In]
    changelog_topic: str | None

    def handle(self, record: In, message: InputMessage) -> Sequence[OutgoingRecord]: ...

    def assign(self, partition: int, changelog: StateRestorer) -> None: ...

    def revoke(self, partition: int) -> None: ...

    def state_size(self) -> int: ...


@dataclass
class WorkerOptions:
    """Identity and tuning of one worker process.

    ``instance_id`` must be stable across restarts of the same worker and distinct between workers
    running side by side (a pod ordinal, ``host-1``): the transactional id derives from it, so a
    restarted worker fences its dead predecessor and aborts its open transaction at once instead of
    leaving readers waiting for the transaction timeout. Bigger batches give throughput, shorter
    waits give latency.
    """

    group_id: str
    instance_id: str = field(default_factory=socket.gethostname)
    max_batch: int = 2000
    poll_timeout_s: float = 0.1
    dlq_topic: str = "prisma.dlq"
    consumer_overrides: dict[str, Any] = field(default_factory=dict)
    producer_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def transactional_id(self) -> str:
        return f"{self.group_id}-{self.instance_id}"


def _coalesce_changelog(outputs: list[OutgoingRecord], changelog_topic: str | None) -> list[OutgoingRecord]:
    """Keep only the last changelog record per key of a batch: the state after the batch is what
    a restore needs, and a hot key (a busy asset) would otherwise be written once per record."""
    if changelog_topic is None:
        return outputs
    last: dict[str, int] = {}
    for index, record in enumerate(outputs):
        if record.topic == changelog_topic and record.key is not None:
            last[record.key] = index
    return [record for index, record in enumerate(outputs)
            if record.topic != changelog_topic or record.key is None or last[record.key] == index]


class TransactionalWorker(Generic[InT]):
    """Runs one stage against Kafka until :meth:`stop` (or SIGTERM/SIGINT with :meth:`run_forever`)."""

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde, stage: Stage[InT], options: WorkerOptions) -> None:
        from confluent_kafka import Consumer

        self.kafka = kafka
        self.serde = serde
        self.stage = stage
        self._decode_message: Callable[[InputMessage], Any] | None = getattr(stage, "decode", None)
        self.options = options
        self._stop = threading.Event()
        self._decode = serde.deserializer(stage.input_model, stage.input_topic)
        self.transactions = TransactionalProducer(producer_config(
            kafka, **{"transactional.id": options.transactional_id, "linger.ms": 1,
                      "transaction.timeout.ms": 15000, "message.timeout.ms": 15000,
                      # After a commit the broker answers CONCURRENT_TRANSACTIONS until its markers are
                      # written (a few ms); librdkafka's default 100 ms retry backoff then stalls the next
                      # batch (measured one hop at 500/s: send_offsets_to_transaction p50 100 ms at the
                      # default, 13 ms at 10, 3 ms at 1). Retries still back off exponentially up to
                      # retry.backoff.max.ms (1 s) when the broker is really unavailable.
                      "retry.backoff.ms": 1,
                      **options.producer_overrides}), stop=self._stop)
        self.consumer = Consumer({
            **kafka.client_config(),
            "group.id": options.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "cooperative-sticky",
            # Static membership: a restarted worker takes its predecessor's place at once instead
            # of waiting out the dead member's session (45 s by default) in a rebalance.
            "group.instance.id": options.transactional_id,
            "session.timeout.ms": 10000,
            "fetch.wait.max.ms": 10,
            **options.consumer_overrides,
        })
        self._assigned: set[int] = set()
        self._restoring = False
        self._joined = False
        self._frozen_at = 0.0
        self._restore_outage = OutageLog(log, f"restore {stage.name}")
        self._labels = {"stage": stage.name}
        # Labelled children looked up once: .labels() per record is measurable at these rates.
        self._m_in = metrics.RECORDS_IN.labels(**self._labels)
        self._m_out = {outcome: metrics.RECORDS_OUT.labels(outcome=outcome, **self._labels)
                       for outcome in ("passed", "filtered", "dead_letter")}
        self._m_dead = metrics.DEAD_LETTERS.labels(**self._labels)
        self._m_process = metrics.PROCESS_SECONDS.labels(**self._labels)
        self._m_aborted = metrics.TRANSACTIONS_ABORTED.labels(**self._labels)

    @property
    def producer(self) -> Any:
        """The current transactional producer (it is replaced when it gets stuck or fenced)."""
        return self.transactions.producer

    # -- lifecycle ----------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then close cleanly."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
        self.run()

    def run(self, *, max_idle_s: float | None = None) -> None:
        """Consume and process until stopped (or idle for ``max_idle_s``, for benchmarks and tests)."""
        self.consumer.subscribe([self.stage.input_topic], on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_revoke)
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                metrics.HEALTH.beat()
                messages = self._next_batch()
                if not messages:
                    if max_idle_s is not None and self._assigned and time.monotonic() - idle_since > max_idle_s:
                        break
                    self._report_lag()
                    continue
                idle_since = time.monotonic()
                self._process_batch(messages)
        except Stopping:
            log.info("stopped while waiting for the broker stage=%s; the open transaction is not committed",
                     self.stage.name)
        finally:
            self.close()

    def close(self) -> None:
        """Leave the group and flush, each bounded: a broker that is away must not hold up the exit."""
        try:
            call_with_deadline(self.consumer.close, 10.0, what="consumer.close")
        except RuntimeError:
            pass  # already closed
        except CallTimedOut:
            log.warning("consumer close did not finish stage=%s", self.stage.name)
        self.transactions.close()

    # -- the batch ----------------------------------------------------------------------------
    def _next_batch(self) -> list[Any]:
        """What has arrived, up to ``max_batch`` records, waiting up to ``poll_timeout_s`` for the first.

        ``consume(n, timeout)`` alone would wait out the whole timeout whenever fewer than ``n``
        records are there, adding that wait to every record's latency at low rates.
        """
        messages: list[Any] = self.consumer.consume(self.options.max_batch, 0)
        if messages:
            return messages
        messages = self.consumer.consume(1, self.options.poll_timeout_s)
        if messages and self.options.max_batch > 1:
            messages.extend(self.consumer.consume(self.options.max_batch - 1, 0))
        return messages

    def _usable(self, messages: list[Any]) -> list[Any]:
        usable = []
        for message in messages:
            if message.error() is not None:
                if message.error().fatal():
                    raise BrokerError(f"consumer failed: {message.error()}")
                log.debug("consume error stage=%s error=%s", self.stage.name, message.error())
                continue
            if message.partition() not in self._assigned:
                # Fetched before a rebalance took the partition away: its new owner reads it again
                # from the committed offset, with the state that matches it. Handling it here would
                # run it against state we no longer hold.
                continue
            usable.append(message)
        return usable

    def _process_batch(self, messages: list[Any]) -> None:
        started = time.perf_counter()
        batch = self._usable(messages)
        if not batch:
            return
        outputs: list[OutgoingRecord] = []
        for message in batch:
            outputs.extend(self._handle(message))
        outputs = _coalesce_changelog(outputs, self.stage.changelog_topic)
        try:
            encoded = [self._encode(record) for record in outputs]
        except Exception as exc:  # noqa: BLE001 - some output of the batch cannot be encoded
            log.warning("a batch output cannot be encoded stage=%s count=%d error=%s; processing the "
                        "batch one record at a time", self.stage.name, len(batch), exc)
            self._restore_state({message.partition() for message in batch})
            self._one_at_a_time(batch)
            return
        try:
            self.transactions.commit(encoded, _next_offsets(batch), self.consumer.consumer_group_metadata())
        except TransactionAborted as exc:
            self._m_aborted.inc()
            log.warning("batch aborted stage=%s count=%d, processing it again error=%s", self.stage.name,
                        len(batch), exc)
            self._rewind(_first_offsets(batch))
            return
        elapsed = time.perf_counter() - started
        self._freeze_long_lived()
        metrics.BATCH_SECONDS.labels(**self._labels).observe(elapsed)
        metrics.STATE_ENTRIES.labels(**self._labels).set(self.stage.state_size())
        log.debug("batch stage=%s count=%d outputs=%d elapsed_s=%.4f", self.stage.name, len(batch), len(outputs),
                  elapsed)

    def _one_at_a_time(self, batch: list[Any]) -> None:
        """Process a batch record by record, one transaction each (the slow path of a poisoned batch).

        A record whose outputs cannot be encoded is dead-lettered in its own transaction, and the
        state of its partition is restored from the changelog, which then holds exactly the state
        before it.
        """
        pending = _first_offsets(batch)
        metadata = self.consumer.consumer_group_metadata()
        for message in batch:
            if message.partition() not in self._assigned:
                continue
            outputs = list(self._handle(message))
            poisoned = False
            try:
                encoded = [self._encode(record) for record in outputs]
            except Exception as exc:  # noqa: BLE001 - this record is the poison: dead-letter it
                poisoned = True
                error = SerializationError(f"an output of this record cannot be encoded: {exc}")
                encoded = [self._encode(self._dead_letter_of(message, error))]
            offsets = _next_offsets([message])
            try:
                self.transactions.commit(encoded, offsets, metadata)
            except TransactionAborted:
                self._m_aborted.inc()
                self._rewind(pending)
                return
            pending[(message.topic(), message.partition())] = message.offset() + 1
            if poisoned:
                self._restore_state({message.partition()})

    def _rewind(self, offsets: dict[tuple[str, int], int]) -> None:
        """Seek back to the first unprocessed offsets and restore the state that matches them."""
        from confluent_kafka import KafkaException, TopicPartition

        for (topic, partition), offset in offsets.items():
            if partition not in self._assigned:
                continue
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                # Not being fetched (yet): assigning it again at the offset sets the position.
                log.debug("seek failed, re-assigning stage=%s partition=%d error=%s", self.stage.name,
                          partition, exc)
                self.consumer.incremental_unassign([TopicPartition(topic, partition)])
                self.consumer.incremental_assign([TopicPartition(topic, partition, offset)])
        self._restore_state({partition for (_, partition) in offsets})

    def _restore_state(self, partitions: set[int]) -> None:
        if not self.stage.changelog_topic:
            return
        for partition in sorted(partitions & self._assigned):
            self.stage.revoke(partition)
            self._assign_partition(partition)

    def _freeze_long_lived(self) -> None:
        """Keep the cyclic garbage collector off the stage's state, at most once a second.

        A stateful stage holds one object graph per finding and asset; CPython's full (oldest
        generation) collections walk all of them, and paused the worker for 350-670 ms with 50,000
        state entries (measured), growing with the state. After a collection of the young
        generations, :func:`gc.freeze` moves what survived out of the collector's sight. Objects
        still free themselves by reference counting; only a reference cycle that was alive at a
        freeze and dies later stays until the process ends, and the stages' state holds no cycles.
        """
        now = time.monotonic()
        if now - self._frozen_at >= _FREEZE_INTERVAL_S:
            gc.collect(1)
            gc.freeze()
            self._frozen_at = now

    def _info(self, message: Any) -> InputMessage:
        return InputMessage(
            topic=message.topic(), partition=message.partition(), offset=message.offset(),
            key=message.key(), value=message.value(),
            headers={k: (v or b"") for k, v in (message.headers() or [])},
            timestamp_ms=message.timestamp()[1],
        )

    def _handle(self, message: Any) -> Sequence[OutgoingRecord]:
        info = self._info(message)
        self._m_in.inc()
        started = time.perf_counter()
        try:
            if info.value is None:
                raise ValueError("empty record value (tombstone) on a data topic")
            record = self._decode_message(info) if self._decode_message else self._decode(info.value)
            produced = self.stage.handle(record, info)
        except Exception as exc:  # noqa: BLE001 - every failure of one record is dead-lettered
            return [self._dead_letter_of(message, exc, info)]
        finally:
            self._m_process.observe(time.perf_counter() - started)
        outcome = "passed" if produced else "filtered"
        self._m_out[outcome].inc()
        return produced

    def _dead_letter_of(self, message: Any, error: BaseException, info: InputMessage | None = None) -> OutgoingRecord:
        info = info or self._info(message)
        self._m_out["dead_letter"].inc()
        self._m_dead.inc()
        return dead_letter(
            stage=self.stage.name, error=error, original_topic=info.topic,
            original_partition=info.partition, original_offset=info.offset,
            original_key=info.key, original_value=info.value, original_headers=info.headers,
            dlq_topic=self.options.dlq_topic,
        )

    def _encode(self, record: OutgoingRecord) -> EncodedRecord:
        return encode_record(self.serde, record)

    # -- partitions and state -------------------------------------------------------------------
    def _assign_partition(self, partition: int) -> None:
        """Restore one partition's state from its changelog, waiting out a broker outage."""
        from streams.changelog import read_partition

        while True:
            changelog: StateRestorer = ()
            if self.stage.changelog_topic:
                changelog = read_partition(self.kafka, self.stage.changelog_topic, partition)
            try:
                self.stage.assign(partition, changelog)
                self._restore_outage.recovered()
                return
            except BrokerError as exc:
                self._restore_outage.failing(exc)
                if self._stop.wait(1.0):
                    raise Stopping(f"stopped while restoring partition {partition}") from exc

    @property
    def restoring(self) -> bool:
        """True while newly assigned partitions have their state restored (readiness waits for it)."""
        return self._restoring

    @property
    def joined(self) -> bool:
        """True once the group has given this worker its assignment (read by the readiness check)."""
        return self._joined

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self._joined = True
        self._restoring = True
        try:
            for tp in partitions:
                self._assign_partition(tp.partition)
                self._assigned.add(tp.partition)
        finally:
            self._restoring = False
        log.info("assigned stage=%s partitions=%s", self.stage.name, sorted(self._assigned))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            self.stage.revoke(tp.partition)
            self._assigned.discard(tp.partition)
        log.info("revoked stage=%s partitions=%s", self.stage.name, [tp.partition for tp in partitions])

    def _report_lag(self) -> None:
        try:
            for tp in self.consumer.position(self.consumer.assignment()):
                _, high = self.consumer.get_watermark_offsets(tp, timeout=1, cached=True)
                if tp.offset >= 0 and high >= 0:
                    metrics.CONSUMER_LAG.labels(partition=str(tp.partition), **self._labels).set(high - tp.offset)
        except Exception:  # noqa: BLE001 - lag is best effort
            log.debug("lag report failed", exc_info=True)


def _first_offsets(batch: Sequence[Any]) -> dict[tuple[str, int], int]:
    """The offset of each partition's first record in ``batch``: where to seek back to on abort."""
    first: dict[tuple[str, int], int] = {}
    for message in batch:
        first.setdefault((message.topic(), message.partition()), message.offset())
    return first


def _next_offsets(batch: Sequence[Any]) -> list[Any]:
    """The offsets to commit for ``batch``: one past each partition's last record."""
    from confluent_kafka import TopicPartition

    last: dict[tuple[str, int], int] = {}
    for message in batch:
        last[(message.topic(), message.partition())] = message.offset()
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]
