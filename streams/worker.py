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

A stateful stage's state lives in the :class:`~streams.state_store.StateStore` it declares; the
worker takes the store's changes once per batch and writes them to the changelog in the same
transaction, and :class:`~streams.worker_partitions.HeldPartitions` restores a partition's state
from the committed changelog when it is assigned or its batch is rolled back.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from processors.errors import ConfigurationError, SerializationError
from streams import metrics
from streams.dlq import dead_letter
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.outage import CallTimedOut, Stopping, call_with_deadline
from streams.publish import OutgoingRecord, encode_record
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.stage import InputMessage, Stage
from streams.transactions import EncodedRecord, TransactionAborted, TransactionalProducer
from streams.worker_partitions import HeldPartitions, first_offsets, next_offsets

__all__ = ["TransactionalWorker", "WorkerOptions"]

log = logging.getLogger(__name__)

_FREEZE_INTERVAL_S = 1.0  # see TransactionalWorker._freeze_long_lived

InT = TypeVar("InT", bound=BaseModel)


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


class TransactionalWorker(Generic[InT]):
    """Runs one stage against Kafka until :meth:`stop` (or SIGTERM/SIGINT with :meth:`run_forever`)."""

    def __init__(self, kafka: KafkaSettings | KafkaClients, serde: AvroSerde, stage: Stage[InT],
                 options: WorkerOptions) -> None:
        self.clients = kafka if isinstance(kafka, KafkaClients) else KafkaClients(kafka)
        self.serde = serde
        self.stage = stage
        self.state = stage.state
        self._decode_message: Callable[[InputMessage], Any] | None = getattr(stage, "decode", None)
        self.options = options
        self._stop = threading.Event()
        self._decode = serde.deserializer(stage.input_model, stage.input_topic)
        self.transactions = TransactionalProducer(self.clients.producer_config(
            **{"transactional.id": options.transactional_id, "linger.ms": 1,
                      "transaction.timeout.ms": 15000, "message.timeout.ms": 15000,
                      # After a commit the broker answers CONCURRENT_TRANSACTIONS until its markers are
                      # written (a few ms); librdkafka's default 100 ms retry backoff then stalls the next
                      # batch (measured one hop at 500/s: send_offsets_to_transaction p50 100 ms at the
                      # default, 13 ms at 10, 3 ms at 1). Retries still back off exponentially up to
                      # retry.backoff.max.ms (1 s) when the broker is really unavailable.
                      "retry.backoff.ms": 1,
                      **options.producer_overrides}), stop=self._stop, factory=self.clients.new_producer)
        self.consumer = self.clients.consumer(options.group_id, **{
            "partition.assignment.strategy": "cooperative-sticky",
            # Static membership: a restarted worker takes its predecessor's place at once instead
            # of waiting out the dead member's session (45 s by default) in a rebalance.
            "group.instance.id": options.transactional_id,
            "session.timeout.ms": 10000,
            "fetch.wait.max.ms": 10,
            **options.consumer_overrides,
        })
        self.partitions = HeldPartitions(self.clients, self.consumer, stage.name, self.state, self._stop)
        self._frozen_at = 0.0
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
        self.consumer.subscribe([self.stage.input_topic], on_assign=self.partitions.on_assign,
                                on_revoke=self.partitions.on_revoke, on_lost=self.partitions.on_revoke)
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                metrics.HEALTH.beat()
                messages = self._next_batch()
                if not messages:
                    if max_idle_s is not None and self.partitions.held and time.monotonic() - idle_since > max_idle_s:
                        break
                    self.partitions.report_lag()
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
        held = self.partitions.held
        for message in messages:
            if message.error() is not None:
                if message.error().fatal():
                    raise BrokerError(f"consumer failed: {message.error()}")
                log.debug("consume error stage=%s error=%s", self.stage.name, message.error())
                continue
            if message.partition() not in held:
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
        if self.state is not None:
            # Once per batch: the store keeps the last write per key, so a hot key (a busy asset)
            # is written once per batch, not once per record.
            outputs.extend(self.state.take_writes())
        try:
            encoded = [self._encode(record) for record in outputs]
        except ConfigurationError:
            raise  # a deployment fault (e.g. a schema not registered): no record is to blame
        except Exception as exc:  # noqa: BLE001 - some output of the batch cannot be encoded
            log.warning("a batch output cannot be encoded stage=%s count=%d error=%s; processing the "
                        "batch one record at a time", self.stage.name, len(batch), exc)
            self.partitions.restore({message.partition() for message in batch})
            self._discard_uncommitted()
            self._one_at_a_time(batch)
            return
        try:
            self.transactions.commit(encoded, next_offsets(batch), self.consumer.consumer_group_metadata())
        except TransactionAborted as exc:
            self._m_aborted.inc()
            log.warning("batch aborted stage=%s count=%d, processing it again error=%s", self.stage.name,
                        len(batch), exc)
            self.partitions.rewind(first_offsets(batch))
            self._discard_uncommitted()
            return
        elapsed = time.perf_counter() - started
        self._freeze_long_lived()
        metrics.BATCH_SECONDS.labels(**self._labels).observe(elapsed)
        metrics.STATE_ENTRIES.labels(**self._labels).set(self.state.size() if self.state is not None else 0)
        log.debug("batch stage=%s count=%d outputs=%d elapsed_s=%.4f", self.stage.name, len(batch), len(outputs),
                  elapsed)

    def _one_at_a_time(self, batch: list[Any]) -> None:
        """Process a batch record by record, one transaction each (the slow path of a poisoned batch).

        A record whose outputs cannot be encoded is dead-lettered in its own transaction, and the
        state of its partition is restored from the changelog, which then holds exactly the state
        before it.
        """
        pending = first_offsets(batch)
        metadata = self.consumer.consumer_group_metadata()
        for message in batch:
            if message.partition() not in self.partitions:
                continue
            outputs = list(self._handle(message))
            if self.state is not None:
                outputs.extend(self.state.take_writes())
            poisoned = False
            try:
                encoded = [self._encode(record) for record in outputs]
            except ConfigurationError:
                raise
            except Exception as exc:  # noqa: BLE001 - this record is the poison: dead-letter it
                poisoned = True
                error = SerializationError(f"an output of this record cannot be encoded: {exc}")
                encoded = [self._encode(self._dead_letter_of(message, error))]
            offsets = next_offsets([message])
            try:
                self.transactions.commit(encoded, offsets, metadata)
            except TransactionAborted:
                self._m_aborted.inc()
                self.partitions.rewind(pending)
                self._discard_uncommitted()
                return
            pending[(message.topic(), message.partition())] = message.offset() + 1
            if poisoned:
                self.partitions.restore({message.partition()})

    def _discard_uncommitted(self) -> None:
        """Tell the stage its outputs since the last commit are gone (see :class:`streams.stage.Stage`)."""
        discard = getattr(self.stage, "discard_uncommitted", None)
        if callable(discard):
            discard()

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

    @property
    def restoring(self) -> bool:
        """True while newly assigned partitions have their state restored (readiness waits for it)."""
        return self.partitions.restoring

    @property
    def joined(self) -> bool:
        """True once the group has given this worker its assignment (read by the readiness check)."""
        return self.partitions.joined
