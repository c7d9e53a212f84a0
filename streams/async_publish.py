"""All-or-nothing writes from asyncio code, answered within a bounded time: the webhook receiver's publisher.

:meth:`AsyncPublisher.send_many` gives its caller one of three outcomes, and only these:

- every record is written, in one Kafka transaction, and the broker acknowledged the commit;
- :class:`RecordsRejectedError`: some records can never be written (they do not encode with the
  project's serde, or are larger than ``max_record_bytes``, the producer's ``message.max.bytes``);
  nothing was written, and the error names each such record and why, so the caller can dead-letter
  them and send again;
- :class:`~streams.publish.PublishError`: the write failed or did not finish within ``timeout_s``
  (a broker outage); the transaction is aborted, so a ``read_committed`` reader (every Prismaflow
  stage) sees none of the records, and the caller's client can retry without duplicating any.

One writer thread owns a transactional producer and serves the requests of every caller: requests
that arrive while a transaction is in flight are written together in the next one (group commit),
so concurrent webhook requests share the cost of a commit. Each request carries a deadline; a
request whose deadline passed before its transaction began is failed without being written.

The one case the transaction cannot close: a commit that the coordinator finishes *after* the
deadline (a broker that stalls mid-commit). The caller has answered "retry" by then, so the retry
writes a second copy; the core stage's dedupe drops it (same alert id, ``lastSeen`` and content
hash: :mod:`processors.dedupe`). ``message.timeout.ms`` equal to ``timeout_s`` makes records of an
outage expire, so their transaction aborts rather than committing late.

``transactional_id`` must be distinct per running publisher (two with one id fence each other) and
stable across its restarts (a restarted one then aborts what its predecessor left open).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException

from processors.errors import SerializationError
from streams.errors import RecordsRejectedError
from streams.kafka_clients import KafkaClients
from streams.publish import Delivery, OutgoingRecord, PublishError, encode_record
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.transactions import EncodedRecord

__all__ = ["AsyncPublisher", "EncodedRecord", "RecordsRejectedError", "DEFAULT_MAX_RECORD_BYTES", "encode_records"]

log = logging.getLogger(__name__)

DEFAULT_MAX_RECORD_BYTES = 1_000_000
"""librdkafka's default ``message.max.bytes``: a larger record is refused by the producer itself."""
_MAX_RECORDS_PER_TRANSACTION = 20_000
_RECOVERY_ATTEMPT_S = 1.0


def encode_records(serde: AvroSerde, records: Sequence[OutgoingRecord], max_record_bytes: int) -> list[EncodedRecord]:
    """Encode every record with the project's serde and check its size, before anything is written.

    Raises RecordsRejectedError naming every record that does not encode or is larger than
    ``max_record_bytes`` (key, value and headers, as librdkafka's ``message.max.bytes`` counts).
    """
    encoded: list[EncodedRecord] = []
    rejections: dict[int, str] = {}
    for index, record in enumerate(records):
        try:
            candidate = encode_record(serde, record)
        except (SerializationError, UnicodeEncodeError) as exc:
            rejections[index] = f"cannot be encoded: {exc}"
            continue
        if candidate.size > max_record_bytes:
            rejections[index] = f"{candidate.size} bytes encoded, more than the {max_record_bytes} a record may have"
            continue
        encoded.append(candidate)
    if rejections:
        raise RecordsRejectedError(rejections)
    return encoded


@dataclass
class _Request:
    records: list[EncodedRecord]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Delivery]]
    deadline: float


_STOP = object()


class AsyncPublisher:
    """Write lists of records from asyncio code, each list in one transaction, within ``timeout_s``.

    Built once per process; :meth:`close` (or ``async with``) stops the writer thread. The producer
    is created and its transactions initialised lazily, so the receiver starts while the broker is
    down and answers 503 until it is back.
    """

    def __init__(self, kafka: KafkaSettings | KafkaClients, serde: AvroSerde, *, transactional_id: str | None = None,
                 timeout_s: float = 5.0, max_record_bytes: int | None = None,
                 config_overrides: Mapping[str, Any] | None = None,
                 producer_factory: Callable[[dict[str, Any]], Any] | None = None) -> None:
        clients = kafka if isinstance(kafka, KafkaClients) else KafkaClients(kafka)
        self._serde = serde
        self._timeout_s = timeout_s
        self._config = clients.producer_config(**{
            "transactional.id": transactional_id or f"prismaflow-publisher-{uuid.uuid4().hex}",
            "message.timeout.ms": max(1000, int(timeout_s * 1000)),
            "transaction.timeout.ms": max(60000, int(timeout_s * 1000) * 2),
            **dict(config_overrides or {}),
        })
        producer_limit = int(self._config.get("message.max.bytes", DEFAULT_MAX_RECORD_BYTES))
        self.max_record_bytes = min(max_record_bytes or producer_limit, producer_limit)
        self._factory: Callable[[dict[str, Any]], Any] = producer_factory or clients.new_producer
        self._producer: Any = None
        self._initialised = False
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closed = False
        self._writer = threading.Thread(target=self._run, name="kafka-transactions", daemon=True)
        self._writer.start()

    # --- the asyncio side -----------------------------------------------------------------------

    async def send(self, record: OutgoingRecord) -> Delivery:
        """Write one record; return once the broker acknowledged it (see :meth:`send_many`)."""
        return (await self.send_many([record]))[0]

    async def send_many(self, records: Sequence[OutgoingRecord]) -> list[Delivery]:
        """Write every record in one transaction and return where each was stored.

        Encodes and size-checks every record first: if any cannot be written, raises
        RecordsRejectedError and writes nothing. Raises PublishError (nothing visible) when the
        transaction fails or does not finish within ``timeout_s``.
        """
        if self._closed:
            raise PublishError("publisher is closed")
        encoded = encode_records(self._serde, records, self.max_record_bytes)
        if not encoded:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Delivery]] = loop.create_future()
        self._queue.put(_Request(encoded, loop, future, time.monotonic() + self._timeout_s))
        try:
            # The writer keeps to the deadline itself; this bound only guards against a stuck thread.
            return await asyncio.wait_for(asyncio.shield(future), self._timeout_s + 2.0)
        except TimeoutError as exc:
            raise PublishError(f"no answer from the writer within {self._timeout_s + 2.0:.0f} s") from exc

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop the writer thread once the requests already queued are answered."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._writer.join, timeout_s)

    async def __aenter__(self) -> AsyncPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            batch: list[_Request] = []
            while True:
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
                if sum(len(r.records) for r in batch) >= _MAX_RECORDS_PER_TRANSACTION:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
        if self._producer is not None:
            self._discard_producer()

    def _write(self, batch: list[_Request]) -> None:
        now = time.monotonic()
        live = []
        for request in batch:
            if request.deadline <= now:
                _settle(request, PublishError(f"not written within {self._timeout_s:.1f} s"))
            else:
                live.append(request)
        if not live:
            return
        records = [record for request in live for record in request.records]
        try:
            deliveries = self._transact(records, min(request.deadline for request in live))
        except PublishError as exc:
            log.error("transaction failed requests=%d records=%d error=%s", len(live), len(records), exc)
            for request in live:
                _settle(request, exc)
            return
        start = 0
        for request in live:
            _settle(request, deliveries[start:start + len(request.records)])
            start += len(request.records)

    def _transact(self, records: list[EncodedRecord], deadline: float) -> list[Delivery]:
        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PublishError(f"not written within {self._timeout_s:.1f} s (broker unreachable or slow)")
            return left

        try:
            if self._producer is None:
                self._producer = self._factory(dict(self._config))
                self._initialised = False
            if not self._initialised:
                self._producer.init_transactions(remaining())
                self._initialised = True
            self._producer.begin_transaction()
        except KafkaException as exc:
            self._after_failure(exc)
            raise PublishError(f"cannot start a transaction: {exc}") from exc
        deliveries: list[Delivery | None] = [None] * len(records)
        failures: list[str] = []
        try:
            for index, record in enumerate(records):
                self._produce(record, self._callback(deliveries, failures, index), remaining)
            self._producer.commit_transaction(remaining())
            self._producer.poll(0)
        except (KafkaException, PublishError) as exc:
            self._abort(exc, remaining)
            raise PublishError(f"transaction of {len(records)} records aborted: {exc}") from exc
        if failures:  # cannot happen after a successful commit; refuse to claim success if it does
            raise PublishError(f"commit succeeded but {len(failures)} deliveries failed: {failures[0]}")
        return [d or Delivery(r.topic, -1, -1) for d, r in zip(deliveries, records, strict=True)]

    def _produce(self, record: EncodedRecord, callback: Any, remaining: Callable[[], float]) -> None:
        while True:
            try:
                kwargs: dict[str, Any] = {"value": record.value, "key": record.key, "headers": record.headers,
                                          "on_delivery": callback}
                if record.partition is not None:
                    kwargs["partition"] = record.partition
                self._producer.produce(record.topic, **kwargs)
                return
            except BufferError:
                remaining()
                self._producer.poll(0.05)  # local queue full: let deliveries drain, then retry

    @staticmethod
    def _callback(deliveries: list[Delivery | None], failures: list[str], index: int) -> Any:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                failures.append(str(err))
            else:
                deliveries[index] = Delivery(msg.topic(), msg.partition(), msg.offset())

        return on_delivery

    def _abort(self, cause: BaseException, remaining: Callable[[], float]) -> None:
        """Abort the open transaction; when that is not possible now, start over with a new producer."""
        error = cause.args[0] if isinstance(cause, KafkaException) and cause.args else None
        if error is not None and error.fatal():
            self._discard_producer()
            return
        try:
            left = remaining()
        except PublishError:
            left = _RECOVERY_ATTEMPT_S
        try:
            self._producer.abort_transaction(left)
        except KafkaException as exc:
            # A new producer with the same transactional id fences this one and the coordinator
            # aborts what it left open; its queued records are purged first.
            log.warning("abort_transaction failed, the producer will be replaced error=%s", exc)
            self._discard_producer()

    def _after_failure(self, exc: BaseException) -> None:
        error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
        if error is None or error.fatal() or not error.retriable():
            self._discard_producer()

    def _discard_producer(self) -> None:
        producer, self._producer, self._initialised = self._producer, None, False
        if producer is not None:
            # Purged and dropped off this thread: tearing a producer down during an outage can block.
            threading.Thread(target=_drop, args=(producer,), name="kafka-discard", daemon=True).start()


def _drop(producer: Any) -> None:
    try:
        producer.purge(True, True, False)
        producer.flush(0)
    except Exception:  # noqa: BLE001 - a producer being dropped may fail in any way; nothing depends on it
        log.debug("purging a discarded producer failed", exc_info=True)


def _settle(request: _Request, outcome: list[Delivery] | BaseException) -> None:
    def settle() -> None:
        if request.future.done():
            return
        if isinstance(outcome, BaseException):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)

    try:
        request.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the caller's loop is closed: nobody waits for this answer
        pass
