"""Rotating the decision-signing key: the signing key signs, retired keys
(``PRISMAFLOW_REMEDIATION_PREVIOUS_SIGNING_KEYS__<id>`` or a secrets file each) still verify, and a
decision signed with a key that was removed is refused by the executor on the real broker: its plan
never runs against moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.execution import build_executor
from connectors.runner.settings import RunnerSettings
from processors.errors import ConfigurationError
from processors.records import AuditRecord, Decision, RemediationDecision, RemediationRequest, RolloutMode
from processors.remediation.approval import ApprovalRules, apply_decision, new_request, open_request
from processors.remediation.signing import SigningKey, sign_decision, signature_valid
from streams.audit import AuditWriter
from streams.config import load_settings
from streams.remediation.executor_stage import ExecutorStage
from streams.remediation.settings import RemediationSettings
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, REMEDIATION_DECISIONS, REMEDIATIONS
from tests.audit_keys import TEST_SIGNER
from tests.connectors.aws.conftest import aws, executor_settings, moto_url, name  # noqa: F401 - shared fixtures
from tests.kafka_helpers import produce_models, read_topic
from tests.processors.remediation.plan_factory import aws_action, make_plan
from tests.streams.remediation.flow_parts import PRIVATE, run_stage

CURRENT, RETIRED, REMOVED = "current-signing-key-0002", "retired-signing-key-0001", "removed-signing-key-0000"


def _rotated() -> RemediationSettings:
    """After two rotations: k2 signs, k1 is retired but still accepted, k0 was removed."""
    return RemediationSettings(signing_key=SecretStr(CURRENT), signing_key_id="k2",
                               previous_signing_keys={"k1": SecretStr(RETIRED)})


def _approved(request: RemediationRequest, key: SigningKey) -> RemediationDecision:
    """The APPROVED outcome the approval service published while ``key`` was its signing key."""
    vote = sign_decision(RemediationDecision(
        request_id=request.request_id, alert_id=request.alert_id, asset_id=request.asset_id,
        decision=Decision.APPROVED, approver="alice", decided_at=request.requested_at + timedelta(minutes=5),
        plan_digest=request.plan_digest), key)
    step = apply_decision(open_request(request).state, vote, {key.key_id: key})
    assert step.outcome is not None and step.outcome.decision is Decision.APPROVED
    return step.outcome


def test_the_signing_key_signs_and_retired_keys_still_verify_but_a_removed_key_does_not() -> None:
    keys = _rotated().signing_keys()
    assert sorted(keys) == ["k1", "k2"]
    request = new_request(make_plan(aws_action("s3", "PutPublicAccessBlock", "b", {"Bucket": "b"})),
                          mode=RolloutMode.ASSIST, requested_at=datetime(2026, 12, 1, tzinfo=UTC), rules=ApprovalRules())
    unsigned = RemediationDecision(request_id=request.request_id, alert_id=request.alert_id, asset_id=request.asset_id,
                                   decision=Decision.APPROVED, approver="alice", decided_at=request.requested_at,
                                   plan_digest=request.plan_digest)
    assert sign_decision(unsigned, keys["k2"]).key_id == "k2"  # whoever signs takes keys[signing_key_id]
    assert signature_valid(sign_decision(unsigned, SigningKey("k1", RETIRED.encode())), keys)
    assert not signature_valid(sign_decision(unsigned, SigningKey("k0", REMOVED.encode())), keys)
    # A key id reused with another secret does not verify either.
    assert not signature_valid(sign_decision(unsigned, SigningKey("k1", REMOVED.encode())), keys)


def test_retired_keys_come_from_variables_or_secrets_files_one_each(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("PRISMAFLOW_REMEDIATION_SIGNING_KEY", CURRENT)
    monkeypatch.setenv("PRISMAFLOW_REMEDIATION_SIGNING_KEY_ID", "k2")
    monkeypatch.setenv("PRISMAFLOW_REMEDIATION_PREVIOUS_SIGNING_KEYS__K1", RETIRED)
    (tmp_path / "prismaflow_remediation_previous_signing_keys__k0").write_text(REMOVED + "\n")
    keys = load_settings().remediation.signing_keys()
    assert sorted(keys) == ["k0", "k1", "k2"]
    message = b"decision"
    assert keys["k0"].mac(message) == SigningKey("k0", REMOVED.encode()).mac(message)
    assert keys["k1"].mac(message) == SigningKey("k1", RETIRED.encode()).mac(message)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"previous_signing_keys": {"k2": SecretStr(RETIRED)}}, "a rotated key needs a new id"),
    ({"previous_signing_keys": {"k1": SecretStr("short")}}, "PREVIOUS_SIGNING_KEYS__k1: a signing key needs at least"),
    ({"signing_key_id": "K2"}, "lower-case key id"),
])
def test_a_rotation_that_would_break_verification_is_refused_at_start(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        _rotated().model_copy(update=changes).signing_keys()


@pytest.mark.broker
@pytest.mark.slow
def test_the_executor_runs_an_outcome_signed_with_a_retired_key_and_refuses_one_signed_with_a_removed_key(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
        moto_url: str, aws: Any, name: str) -> None:  # noqa: F811
    s3 = aws("s3")
    retired, removed = name, name + "-b"
    requests = {}
    for bucket in (retired, removed):
        s3.create_bucket(Bucket=bucket)
        plan = make_plan(aws_action("s3", "PutPublicAccessBlock", bucket,
                                    {"Bucket": bucket, "PublicAccessBlockConfiguration": PRIVATE}),
                         alert_id=f"P-{bucket}", plan_id=f"plan-{bucket}")
        requests[bucket] = new_request(plan, mode=RolloutMode.ASSIST, requested_at=datetime.now(UTC),
                                       rules=ApprovalRules())
        assert requests[bucket].required_approvals == 1
    produce_models(kafka, serde, catalogue + REMEDIATIONS.name, [(r.request_id, r) for r in requests.values()])
    produce_models(kafka, serde, catalogue + REMEDIATION_DECISIONS.name, [
        (requests[retired].request_id, _approved(requests[retired], SigningKey("k1", RETIRED.encode()))),
        (requests[removed].request_id, _approved(requests[removed], SigningKey("k0", REMOVED.encode()))),
    ])
    audit = AuditWriter(f"{catalogue}remediation-executor/0", kafka, serde, topic=catalogue + AUDIT.name,
                        signer=TEST_SIGNER)
    audit.start()
    run_stage(kafka, serde, ExecutorStage(
        kafka=kafka, serde=serde, keys=_rotated().signing_keys(), audit=audit,
        executor=build_executor(executor_settings(moto_url), RunnerSettings()), topic_prefix=catalogue,
        dry_run=False),
        group=unique_name("exec"), catalogue=catalogue)

    assert s3.get_public_access_block(Bucket=retired)["PublicAccessBlockConfiguration"] == PRIVATE
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_public_access_block(Bucket=removed)  # the plan signed with the removed key never ran
    records = [serde.decode(m.value() or b"", AuditRecord, topic=catalogue + AUDIT.name)
               for m in read_topic(kafka, catalogue + AUDIT.name, settle_s=0.5, timeout_s=20)]
    runs = {r.alert_id: r for r in records if r.action == "remediation_run"}
    assert list(runs) == [f"P-{retired}"] and json.loads(runs[f"P-{retired}"].details_json)["approvers"] == ["alice"]
    [refused] = [r for r in records if r.action == "remediation_run_refused"]
    assert refused.alert_id == f"P-{removed}"
    assert "signature does not verify" in refused.details_json and "0 of 1 distinct valid approvals" in refused.details_json
