"""The transaction layer: retriable errors are waited out, abortable ones abort, fatal or stuck
producers are replaced, and a stop request ends every wait. Driven with a scripted stand-in for the
confluent-kafka producer (its error objects are the real ``KafkaError``)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

import streams.transactions as transactions
from streams.outage import OutageLog, Stopping
from streams.transactions import EncodedRecord, TransactionAborted, TransactionalProducer

RETRIABLE = KafkaError(KafkaError._TIMED_OUT, "coordinator unreachable", retriable=True)
ABORTABLE = KafkaError(KafkaError._TIMED_OUT, "transaction timed out", txn_requires_abort=True)
FATAL = KafkaError(KafkaError._FENCED, "fenced by a newer instance", fatal=True)


class ScriptedProducer:
    """Answers each transactional call with the next scripted outcome (None: success, an error:
    raised, "hang": blocks until released)."""

    def __init__(self, script: dict[str, list[Any]], release: threading.Event) -> None:
        self.script = script
        self.release = release
        self.calls: list[str] = []
        self.produced: list[EncodedRecord] = []

    def _answer(self, name: str) -> None:
        self.calls.append(name)
        outcomes = self.script.get(name, [])
        outcome = outcomes.pop(0) if outcomes else None
        if isinstance(outcome, str) and outcome == "hang":
            self.release.wait()
        elif isinstance(outcome, KafkaError):
            raise KafkaException(outcome)

    def init_transactions(self, timeout: float) -> None:
        self._answer("init_transactions")

    def begin_transaction(self) -> None:
        self._answer("begin_transaction")

    def produce(self, topic: str, **kwargs: Any) -> None:
        self.produced.append(EncodedRecord(topic, kwargs.get("key"), kwargs.get("value")))

    def poll(self, timeout: float) -> int:
        return 0

    def send_offsets_to_transaction(self, offsets: Any, metadata: Any, timeout: float) -> None:
        self._answer("send_offsets_to_transaction")

    def commit_transaction(self, timeout: float) -> None:
        self._answer("commit_transaction")

    def abort_transaction(self, timeout: float) -> None:
        self._answer("abort_transaction")

    def flush(self, timeout: float) -> int:
        return 0


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactions, "_MARGIN_S", 0.5)
    monkeypatch.setattr(transactions, "_RETRY_PAUSE_S", 0.01)


def _producer(*scripts: dict[str, list[Any]], stop: threading.Event | None = None,
              timeout_s: float = 1.0) -> tuple[TransactionalProducer, list[ScriptedProducer], threading.Event]:
    release = threading.Event()
    made: list[ScriptedProducer] = []
    pending = list(scripts)

    def factory(config: dict[str, Any]) -> ScriptedProducer:
        made.append(ScriptedProducer(pending.pop(0) if pending else {}, release))
        return made[-1]

    tx = TransactionalProducer({"transactional.id": "t-1"}, timeout_s=timeout_s, stop=stop, factory=factory)
    return tx, made, release


RECORDS = [EncodedRecord("out", b"k", b"v")]


def test_a_clean_transaction_commits_once() -> None:
    tx, made, _ = _producer({})
    tx.commit(RECORDS, offsets=["offsets"], group_metadata="group")
    assert made[0].calls == ["init_transactions", "begin_transaction", "send_offsets_to_transaction",
                             "commit_transaction"]
    assert made[0].produced == RECORDS


def test_retriable_errors_are_retried_on_the_same_transaction_until_the_broker_answers() -> None:
    tx, made, _ = _producer({"commit_transaction": [RETRIABLE, RETRIABLE, RETRIABLE]})
    tx.commit(RECORDS)
    assert made[0].calls.count("commit_transaction") == 4
    assert made[0].calls.count("begin_transaction") == 1
    assert len(made) == 1 and tx.replacements == 0


def test_an_abortable_error_aborts_and_tells_the_caller_to_process_the_batch_again() -> None:
    tx, made, _ = _producer({"send_offsets_to_transaction": [ABORTABLE]})
    with pytest.raises(TransactionAborted):
        tx.commit(RECORDS, offsets=["offsets"], group_metadata="group")
    assert made[0].calls[-1] == "abort_transaction"
    assert "commit_transaction" not in made[0].calls


def test_a_fatal_error_replaces_the_producer_which_fences_the_old_one() -> None:
    tx, made, _ = _producer({"commit_transaction": [FATAL]}, {})
    with pytest.raises(TransactionAborted):
        tx.commit(RECORDS)
    assert len(made) == 2 and tx.replacements == 1
    assert made[1].calls == ["init_transactions"]
    tx.commit(RECORDS)  # the new producer carries on
    assert made[1].calls[-1] == "commit_transaction"


def test_a_call_stuck_past_its_timeout_is_abandoned_and_the_producer_replaced() -> None:
    """librdkafka#5456: send_offsets_to_transaction can ignore its timeout while the coordinator is away."""
    tx, made, release = _producer({"send_offsets_to_transaction": ["hang"]}, {}, timeout_s=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(TransactionAborted, match="did not return"):
            tx.commit(RECORDS, offsets=["offsets"], group_metadata="group")
        assert time.monotonic() - started < 5
        assert tx.replacements == 1 and tx.has_abandoned_clients
    finally:
        release.set()


def test_a_stop_request_ends_a_wait_for_the_broker_within_a_second() -> None:
    stop = threading.Event()
    tx, _, _ = _producer({"commit_transaction": [RETRIABLE] * 10_000}, stop=stop)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Stopping):
        tx.commit(RECORDS)
    assert time.monotonic() - started < 1.5


def test_a_broker_missing_at_start_up_is_reported_after_the_bounded_wait() -> None:
    release = threading.Event()

    def factory(config: dict[str, Any]) -> ScriptedProducer:
        return ScriptedProducer({"init_transactions": [RETRIABLE] * 1000}, release)

    started = time.monotonic()
    with pytest.raises(Exception, match="could not initialise transactions for t-1"):
        TransactionalProducer({"transactional.id": "t-1"}, timeout_s=0.2, init_timeout_s=1.0, factory=factory)
    assert time.monotonic() - started < 3


def test_an_outage_is_logged_once_per_interval_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = OutageLog(logging.getLogger("t"), "core", interval_s=30, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="t"):
        for _ in range(100):  # 100 failures over 99 s: the first, then one per 30 s
            outage.failing("broker down")
            now[0] += 1
        outage.recovered()
        outage.recovered()
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "waiting for the broker" in line]) == 4
    assert len([line for line in lines if "reachable again" in line]) == 1
