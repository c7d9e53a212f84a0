"""One Kafka transaction at a time, that either commits or is aborted — never left hanging.

:class:`TransactionalProducer` wraps a transactional confluent-kafka producer for the stream
workers and the pollers. :meth:`~TransactionalProducer.commit` writes a batch of already encoded
records (and, for a consume-process-produce loop, the consumed offsets) in one transaction and
returns only when the transaction is committed. Otherwise it raises:

- :class:`TransactionAborted` — nothing of the batch became visible; the caller rewinds its input
  and processes the batch again. Raised for an abortable error (the broker timed the transaction
  out during an outage, a rebalance took a partition away) after a successful abort, and after the
  producer was replaced (a fatal error such as being fenced, or a call stuck past its deadline);
- :class:`~streams.outage.Stopping` — the process is shutting down while it waited; nothing was
  committed, and the broker aborts the open transaction (or the next instance fences it).

Retriable errors (broker unreachable, coordinator moving, request timed out) are retried for as
long as they last, with one log line per interval (:class:`~streams.outage.OutageLog`). A call
that does not return within its timeout plus a margin is abandoned on its thread and the producer
replaced: a new producer with the same ``transactional.id`` fences the old one and aborts its open
transaction on the broker, so nothing it wrote becomes visible.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException

from streams.errors import BrokerError
from streams.outage import CallTimedOut, OutageLog, Stopping, call_with_deadline

__all__ = ["EncodedRecord", "TransactionAborted", "TransactionalProducer"]

log = logging.getLogger(__name__)

_MARGIN_S = 15.0  # on top of librdkafka's own timeout before a call counts as stuck
_RETRY_PAUSE_S = 0.5


class TransactionAborted(BrokerError):
    """The batch's transaction was aborted: none of it is visible; process the batch again."""


@dataclass(frozen=True)
class EncodedRecord:
    """A record ready for the wire: topic, key and value bytes, headers, optional partition."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None
    partition: int | None = None

    @property
    def size(self) -> int:
        """Key, value and headers in bytes, as librdkafka counts a record against ``message.max.bytes``."""
        return (len(self.key or b"") + len(self.value or b"")
                + sum(len(k) + len(v) for k, v in self.headers or []))


class TransactionalProducer:
    """A transactional producer that survives broker outages, fencing and stuck calls.

    ``config`` is the full librdkafka producer configuration, ``transactional.id`` included, and
    ``factory`` builds a producer from it (:meth:`streams.kafka_clients.KafkaClients.new_producer`;
    called again for a replacement). The
    constructor initialises transactions once with a bounded wait (``init_timeout_s``): a broker
    missing at start-up is an error the caller reports; later outages are ridden out.
    ``stop`` is the process's shutdown flag: waits end within half a second of it being set.
    """

    def __init__(self, config: dict[str, Any], *, factory: Callable[[dict[str, Any]], Any],
                 timeout_s: float = 30.0, init_timeout_s: float = 30.0,
                 stop: threading.Event | None = None) -> None:
        self._config = dict(config)
        self._timeout_s = timeout_s
        self._stop = stop or threading.Event()
        self._factory = factory
        self._abandoned: list[Any] = []  # stuck producers are kept alive, never destroyed under a call
        self._outage = OutageLog(log, f"transaction {self._config.get('transactional.id')}")
        self.replacements = 0
        self._producer = self._new_producer(init_timeout_s)

    @property
    def producer(self) -> Any:
        """The current confluent-kafka producer (for ``poll``/``flush`` and tests)."""
        return self._producer

    # -- the transaction ------------------------------------------------------------------------
    def commit(self, records: Sequence[EncodedRecord], offsets: Sequence[Any] | None = None,
               group_metadata: Any = None) -> None:
        """Write ``records`` (and the consumer ``offsets``) in one transaction and commit it."""
        producer = self._producer
        try:
            producer.begin_transaction()
            for record in records:
                self._produce(producer, record)
            if offsets:
                self._retrying(lambda: producer.send_offsets_to_transaction(
                    list(offsets), group_metadata, self._timeout_s), "send_offsets_to_transaction")
            self._retrying(lambda: producer.commit_transaction(self._timeout_s), "commit_transaction")
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if error is not None and getattr(error, "fatal", lambda: False)():
                log.warning("transaction failed fatally, replacing the producer error=%s", error)
                self._replace()
            else:
                log.warning("transaction failed, aborting error=%s", error)
                self._abort()
            raise TransactionAborted(f"transaction of {len(records)} records aborted: {error}") from exc
        except CallTimedOut as exc:
            log.error("a transactional call is stuck, replacing the producer error=%s", exc)
            self._replace()
            raise TransactionAborted(str(exc)) from exc

    def _produce(self, producer: Any, record: EncodedRecord) -> None:
        kwargs: dict[str, Any] = {"value": record.value, "key": record.key}
        if record.headers:
            kwargs["headers"] = record.headers
        if record.partition is not None:
            kwargs["partition"] = record.partition
        while True:
            try:
                producer.produce(record.topic, **kwargs)
                return
            except BufferError:
                producer.poll(0.01)  # local queue full: let deliveries drain
                if self._stop.is_set():
                    raise Stopping("stopped while the producer queue was full") from None

    def _retrying(self, call: Callable[[], Any], what: str) -> None:
        """Run a transactional call, retrying retriable errors until it succeeds or must abort."""
        while True:
            try:
                call_with_deadline(call, self._timeout_s + _MARGIN_S, what=what, stop=self._stop)
                self._outage.recovered()
                return
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                retriable = (error is not None and error.retriable() and not error.txn_requires_abort()
                             and not error.fatal())
                if not retriable:
                    raise
                self._outage.failing(error)
                self._pause()

    def _abort(self) -> None:
        """Abort the open transaction; a producer that cannot abort is replaced instead."""
        while True:
            try:
                call_with_deadline(lambda: self._producer.abort_transaction(self._timeout_s),
                                   self._timeout_s + _MARGIN_S, what="abort_transaction", stop=self._stop)
                return
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if error is not None and error.retriable() and not error.fatal():
                    self._outage.failing(error)
                    self._pause()
                    continue
                log.warning("abort failed, replacing the producer error=%s", error)
                self._replace()
                return
            except CallTimedOut:
                log.error("abort_transaction is stuck, replacing the producer")
                self._replace()
                return

    # -- the producer ---------------------------------------------------------------------------
    def _new_producer(self, first_wait_s: float | None) -> Any:
        """A producer with transactions initialised.

        ``first_wait_s`` bounds the wait (start-up: a missing broker is reported); ``None`` waits for
        as long as the outage lasts (a replacement during a run). A timed-out initialisation is
        retried on the same producer (librdkafka allows it); a stuck or failed one gets a new one.
        """
        started = time.monotonic()
        producer = self._factory(self._config)
        while True:
            wait = self._timeout_s
            if first_wait_s is not None:
                wait = max(1.0, min(wait, first_wait_s - (time.monotonic() - started)))
            try:
                call_with_deadline(lambda: producer.init_transactions(wait), wait + _MARGIN_S,
                                   what="init_transactions", stop=self._stop)
                self._outage.recovered()
                return producer
            except (KafkaException, CallTimedOut) as exc:
                error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
                if first_wait_s is not None and time.monotonic() - started >= first_wait_s:
                    self._abandoned.append(producer)
                    raise BrokerError(f"could not initialise transactions for "
                                      f"{self._config.get('transactional.id')}: {error or exc}") from exc
                self._outage.failing(error or exc)
                if error is None or not error.retriable():
                    self._abandoned.append(producer)
                    producer = self._factory(self._config)
                self._pause()

    def _replace(self) -> None:
        self._abandoned.append(self._producer)
        self.replacements += 1
        self._producer = self._new_producer(None)
        log.info("producer replaced transactional_id=%s replacements=%d",
                 self._config.get("transactional.id"), self.replacements)

    def _pause(self) -> None:
        if self._stop.wait(_RETRY_PAUSE_S):
            raise Stopping("stopped while waiting for the broker")

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush what is queued (bounded); a stuck client is left to the process's exit."""
        if self._producer is None:
            return
        try:
            call_with_deadline(lambda: self._producer.flush(timeout_s), timeout_s + 5, what="flush")
        except (CallTimedOut, Stopping):
            log.warning("producer flush did not finish at close")
            self._abandoned.append(self._producer)
        # Drop the handle now rather than whenever this object is collected: librdkafka keeps its
        # connections (and logs their loss) for as long as the handle lives.
        self._producer = None

    @property
    def has_abandoned_clients(self) -> bool:
        """True when a stuck client was left behind: the process should exit without finalising it."""
        return bool(self._abandoned)
