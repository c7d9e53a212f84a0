"""The remediation stages on the real broker and the real worker loop.

The request stage turns a public-bucket alert into a validated request with its ticket in Pending
Approval and a Slack message; the executor stage runs an approved outcome only after re-checking
its approvals (a forged one-approval outcome for a production fix runs nothing), against moto, and
resolves the ticket; in monitor mode only the shadow record is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import yaml

from connectors.execution import build_executor
from connectors.runner.settings import RunnerSettings
from processors.records import AuditRecord, Decision, RemediationDecision, RemediationRequest, RolloutMode
from processors.remediation.approval import apply_decision, open_request
from processors.remediation.modes import parse_policy
from processors.remediation.signing import SigningKey, sign_decision
from streams.audit import verify_audit
from streams.remediation.analyses import AnalysisLookup
from streams.remediation.announce import TicketFollowUps
from streams.remediation.executor_stage import ExecutorStage
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import ANALYSES, AUDIT, REMEDIATION_DECISIONS, REMEDIATIONS, SCORED_ALERTS
from tests.audit_keys import TEST_KEYRING
from tests.connectors.aws.conftest import aws, executor_settings, moto_url, name  # noqa: F401 - shared fixtures
from tests.factories import make_analysis, make_remediation_step
from tests.kafka_helpers import produce_models, read_topic
from tests.processors.remediation.conftest import family_alert
from tests.streams.remediation.flow_parts import PRIVATE, BucketScan, channels, run_stage, signed_audit_writer

pytestmark = [pytest.mark.broker, pytest.mark.slow]

KEY = SigningKey("k1", b"test-approval-signing-key-0001")
DETACH = "aws iam detach-role-policy --role-name reporting-lambda --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"
ASSIST = parse_policy(yaml.safe_load("default: assist"))
MONITOR = parse_policy(yaml.safe_load("default: monitor"))


def _audit(kafka: KafkaSettings, serde: AvroSerde, catalogue: str) -> list[AuditRecord]:
    return [serde.decode(m.value() or b"", AuditRecord, topic=catalogue + AUDIT.name)
            for m in read_topic(kafka, catalogue + AUDIT.name, settle_s=0.5, timeout_s=20)]


def _outcome(request: RemediationRequest, approvers: list[str]) -> RemediationDecision:
    """What the approval service publishes once ``approvers`` approved (its own state machine)."""
    state = open_request(request).state
    outcome = None
    for i, who in enumerate(approvers):
        vote = sign_decision(RemediationDecision(
            request_id=request.request_id, alert_id=request.alert_id, asset_id=request.asset_id,
            decision=Decision.APPROVED, approver=who, decided_at=request.requested_at + timedelta(minutes=i + 1),
            plan_digest=request.plan_digest), KEY)
        step = apply_decision(state, vote, {"k1": KEY})
        state, outcome = step.state, step.outcome or outcome
    if outcome is None:  # too few approvals: forge the final outcome the service would never publish
        outcome = RemediationDecision(
            request_id=request.request_id, alert_id=request.alert_id, asset_id=request.asset_id,
            decision=Decision.APPROVED, decided_at=request.requested_at, plan_digest=request.plan_digest, final=True,
            approvals=[{"approver": v.approver or "", "decided_at": v.decided_at, "plan_digest": v.plan_digest,
                        "signature": v.signature, "key_id": v.key_id} for v in state.approvals])  # type: ignore[misc]
    return outcome


def test_an_approved_public_bucket_fix_runs_and_resolves_its_ticket_and_a_forged_outcome_runs_nothing(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
        run_request_stage: Callable[..., None], moto_url: str, aws: Any, name: str) -> None:  # noqa: F811
    s3 = aws("s3")
    fixed, forged = name, name + "-b"
    for bucket in (fixed, forged):
        s3.create_bucket(Bucket=bucket)
    alerts = [family_alert("s3_public_access", alert_id=f"P-{bucket}", resource_id=bucket,
                           config={"bucketName": bucket}) for bucket in (fixed, forged)]
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(a.alert.resource.asset_id, a) for a in alerts])
    parts = channels()
    run_request_stage(ASSIST, announcer=parts.announcer)

    requests = {r.alert_id: r for r in (serde.decode(m.value() or b"", RemediationRequest, topic=catalogue + REMEDIATIONS.name)
                                        for m in read_topic(kafka, catalogue + REMEDIATIONS.name, expect=2))}
    request, other = requests[f"P-{fixed}"], requests[f"P-{forged}"]
    assert request.mode is RolloutMode.ASSIST and request.required_approvals == 2 and request.target_resource == fixed
    ticket = parts.ticket(request.request_id)
    assert ticket is not None and ticket[1] == "Pending Approval"
    [message] = [m["body"] for m in parts.chat_sim.messages if request.request_id in json.dumps(m["body"])]
    buttons = {e["action_id"]: e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert buttons["prismaflow_approve"]["value"] == f"{request.request_id}|{request.plan_digest}"
    assert buttons["prismaflow_open_console"]["url"].startswith(f"http://127.0.0.1:8088/r/{request.request_id}?sig=")

    produce_models(kafka, serde, catalogue + REMEDIATION_DECISIONS.name, [
        (other.request_id, _outcome(other, ["alice"])),  # one approval for a production fix: forged outcome
        (request.request_id, _outcome(request, ["alice", "bob"])),
        (request.request_id, _outcome(request, ["alice", "bob"])),  # at least once: delivered twice
    ])
    stage = ExecutorStage(kafka=kafka, serde=serde, keys={"k1": KEY},
                          audit=signed_audit_writer(kafka, serde, catalogue, "remediation-executor"),
                          executor=build_executor(executor_settings(moto_url), RunnerSettings()),
                          prisma=BucketScan(s3, {f"P-{fixed}": fixed, f"P-{forged}": forged}),
                          tickets=TicketFollowUps(parts.announcer), topic_prefix=catalogue, dry_run=False,
                          clock=lambda: request.requested_at + timedelta(hours=1))
    run_stage(kafka, serde, stage, group=unique_name("exec"), catalogue=catalogue)

    assert s3.get_public_access_block(Bucket=fixed)["PublicAccessBlockConfiguration"] == PRIVATE  # read back
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_public_access_block(Bucket=forged)  # nothing ran for the forged outcome
    ticket = parts.ticket(request.request_id)
    assert ticket is not None and ticket[1] == "Done"
    records = _audit(kafka, serde, catalogue)
    by_action: dict[str, list[AuditRecord]] = {}
    for record in records:
        by_action.setdefault(record.action, []).append(record)
    assert [r.alert_id for r in by_action["remediation_run"]] == [f"P-{fixed}"]  # once, though delivered twice
    [refused] = by_action["remediation_run_refused"]
    assert refused.alert_id == f"P-{forged}" and "1 of 2 distinct valid approvals" in refused.details_json
    for action in ("remediation_planned", "remediation_mode", "remediation_request_created", "remediation_announced",
                   "remediation_executed", "remediation_rechecked", "remediation_ticket_followed_up"):
        assert f"P-{fixed}" in {r.alert_id for r in by_action[action]}, action
    assert all(report.report.ok for report in verify_audit(kafka, serde, catalogue + AUDIT.name, keyring=TEST_KEYRING))


def test_monitor_mode_writes_only_a_shadow_record_no_ticket_no_message(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, run_request_stage: Callable[..., None]) -> None:
    scored = family_alert("s3_public_access", alert_id="P-monitor-1")
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(scored.alert.resource.asset_id, scored)])
    parts = channels()
    run_request_stage(MONITOR, announcer=parts.announcer)
    [message] = read_topic(kafka, catalogue + REMEDIATIONS.name, expect=1)
    shadow = serde.decode(message.value() or b"", RemediationRequest, topic=catalogue + REMEDIATIONS.name)
    assert shadow.mode is RolloutMode.MONITOR and shadow.alert_id == "P-monitor-1"
    assert not parts.jira_sim.store.issues and not parts.chat_sim.messages
    actions = [r.action for r in _audit(kafka, serde, catalogue)]
    assert actions == ["remediation_planned", "remediation_mode", "remediation_shadow_recorded"]


def test_the_alerts_analysis_on_the_analyses_topic_is_the_planners_fallback(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, run_request_stage: Callable[..., None]) -> None:
    # The role's configuration lists no over-permissive policy, so the planner declines; the analysis
    # (written by the analysis stage before) says to detach AdministratorAccess from the alert's role.
    scored = family_alert("iam_policy_attachment", alert_id="P-iam-1", config={"attachedPolicies": []},
                          policy_name="AWS IAM policies that allow full '*:*' administrative privileges")
    analysis = make_analysis(alert_id="P-iam-1", asset_id=scored.alert.resource.asset_id, remediation_steps=[
        make_remediation_step(command=DETACH, iac_snippet="")])
    produce_models(kafka, serde, catalogue + ANALYSES.name, [(analysis.asset_id, analysis)])
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(scored.alert.resource.asset_id, scored)])
    run_request_stage(ASSIST, analyses=AnalysisLookup(kafka, serde, catalogue + ANALYSES.name))
    [message] = read_topic(kafka, catalogue + REMEDIATIONS.name, expect=1)
    request = serde.decode(message.value() or b"", RemediationRequest, topic=catalogue + REMEDIATIONS.name)
    plan = request.plan()
    assert plan is not None and [a.operation for a in plan.actions] == ["DetachRolePolicy"]
    assert request.touches_iam and request.required_approvals == 2
    [planned] = [r for r in _audit(kafka, serde, catalogue) if r.action == "remediation_planned"]
    assert json.loads(planned.details_json)["source"] == "analysis"


def test_a_recurring_alert_keeps_its_one_ticket_and_one_message(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, run_request_stage: Callable[..., None]) -> None:
    first = family_alert("s3_public_access", alert_id="P-again-1")
    again = first.model_copy(update={"scored_at": first.scored_at + timedelta(hours=6)})
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name,
                   [(first.alert.resource.asset_id, first), (again.alert.resource.asset_id, again)])
    parts = channels()
    run_request_stage(ASSIST, announcer=parts.announcer)
    requests = [serde.decode(m.value() or b"", RemediationRequest, topic=catalogue + REMEDIATIONS.name)
                for m in read_topic(kafka, catalogue + REMEDIATIONS.name, expect=2)]
    assert len({r.request_id for r in requests}) == 1  # the same plan: the same request
    assert len(parts.jira_sim.store.issues) == 1 and len(parts.chat_sim.messages) == 1
    ticket = parts.ticket(requests[0].request_id)
    assert ticket is not None and ticket[1] == "Pending Approval"
