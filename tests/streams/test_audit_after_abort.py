"""An aborted transaction leaves no gap in an audit chain: the stage's writer goes back to the last
committed record, and the batch processed again writes the records the abort threw away (real broker)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.records import ActorType, DeadLetter
from streams.audit import AuditWriter, read_chains, verify_audit
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.stage import InputMessage
from streams.state_store import StateStore
from streams.topics import AUDIT, DLQ
from streams.transactions import TransactionAborted
from streams.worker import TransactionalWorker, WorkerOptions
from tests.audit_keys import TEST_KEYRING, TEST_SIGNER
from tests.kafka_helpers import produce_models

pytestmark = pytest.mark.broker


class AuditingStage:
    """Writes one audit record per input record (what the remediation stages do, in miniature)."""

    name = "audited"
    input_model = DeadLetter  # any Avro record will do as input
    state: StateStore | None = None

    def __init__(self, audit: AuditWriter, input_topic: str) -> None:
        self.audit, self.input_topic = audit, input_topic

    def discard_uncommitted(self) -> None:
        self.audit.discard_unwritten()

    def handle(self, record: DeadLetter, message: InputMessage) -> Sequence[OutgoingRecord]:
        return [self.audit.record(ActorType.SYSTEM.value, "audited", "seen", details={"at": f"{message.partition}:{message.offset}"})]


def _letter(i: int) -> DeadLetter:
    return DeadLetter(stage="test", error_class="E", error_message=f"record {i}", original_topic="t",
                      original_partition=0, original_offset=i, failed_at=datetime(2026, 12, 7, tzinfo=UTC))


def test_a_batch_aborted_once_is_audited_again_without_a_gap_in_the_chain(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Any) -> None:
    input_topic, audit_topic = catalogue + DLQ.name, catalogue + AUDIT.name
    produce_models(kafka, serde, input_topic, [(f"k{i}", _letter(i)) for i in range(6)])
    audit = AuditWriter(f"{catalogue}audited/0", kafka, serde, topic=audit_topic, signer=TEST_SIGNER)
    audit.start()
    stage = AuditingStage(audit, input_topic)
    worker = TransactionalWorker(kafka, serde, stage, WorkerOptions(
        group_id=unique_name("g"), instance_id="t0", dlq_topic=input_topic, max_batch=3))
    real_commit, calls = worker.transactions.commit, []

    def commit_aborting_the_first(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise TransactionAborted("the broker aborted it (test)")  # nothing of this batch is written
        real_commit(*args, **kwargs)

    worker.transactions.commit = commit_aborting_the_first  # type: ignore[method-assign]
    worker.run(max_idle_s=3.0)

    assert len(calls) >= 2, "the first transaction was never attempted"
    [chain] = [records for (_, name), records in read_chains(kafka, serde, audit_topic).items()
               if name == f"{catalogue}audited/0"]
    assert [r.sequence for r in chain] == list(range(len(chain)))  # 0, 1, 2, ...: no hole
    assert sorted(r.details_json for r in chain) == sorted({r.details_json for r in chain})  # each once
    assert len(chain) == 6
    reports = [r for r in verify_audit(kafka, serde, audit_topic, keyring=TEST_KEYRING)
               if r.chain == f"{catalogue}audited/0"]
    assert reports and all(r.report.ok for r in reports), [r.report.problems for r in reports]
