"""After execution: the re-check's reading, the ticket's follow-up, and the audit entries on the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from processors.audit import AuditChain, verify_chain
from processors.records import ActorType
from processors.remediation.execution import ActionOutcome, ActionStatus, ExecutionResult, StepDecision
from processors.remediation.followup import (
    EXECUTOR_ACTOR,
    MAX_AUDIT_OUTPUT_CHARS,
    Recheck,
    RecheckStatus,
    append_entry,
    execution_audit_entry,
    recheck_audit_entry,
    recheck_of,
    skipped_outcome,
    ticket_follow_up,
)
from processors.remediation.plan import ActionKind
from tests.processors.remediation.plan_factory import aws_action

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _outcome(status: ActionStatus, index: int = 0, **fields: object) -> ActionOutcome:
    values: dict[str, object] = {"index": index, "kind": ActionKind.AWS_API, "target_resource": "payroll",
                                 "operation": "s3:PutPublicAccessBlock", "status": status, "started_at": AT,
                                 "ended_at": AT + timedelta(seconds=1)}
    values.update(fields)
    return ActionOutcome.model_validate(values)


def _result(*outcomes: ActionOutcome, dry_run: bool = False) -> ExecutionResult:
    return ExecutionResult(plan_id="plan-1", plan_digest="ab" * 32, alert_id="P-1001", dry_run=dry_run,
                           outcomes=outcomes)


def _resolved() -> Recheck:
    return recheck_of("P-1001", {"id": "P-1001", "status": "resolved", "reason": "RESOURCE_UPDATED"})


def test_the_alert_document_says_resolved_still_open_or_other() -> None:
    assert _resolved().status is RecheckStatus.RESOLVED and _resolved().reason == "RESOURCE_UPDATED"
    assert recheck_of("P-1", {"status": "open"}).status is RecheckStatus.STILL_OPEN
    other = recheck_of("P-1", {"status": "dismissed"})
    assert other.status is RecheckStatus.OTHER and other.prisma_status == "dismissed"


def test_the_ticket_is_resolved_only_after_a_real_fix_that_prisma_confirms() -> None:
    fixed = _result(_outcome(ActionStatus.OK))
    assert ticket_follow_up(fixed, _resolved()).resolve
    still_open = ticket_follow_up(fixed, recheck_of("P-1001", {"status": "open"}))
    assert not still_open.resolve and "still_open" in still_open.comment
    assert not ticket_follow_up(fixed, None).resolve
    assert not ticket_follow_up(_result(_outcome(ActionStatus.DRY_RUN), dry_run=True), _resolved()).resolve


def test_a_failed_fix_leaves_the_ticket_open_with_the_output() -> None:
    failed = _result(_outcome(ActionStatus.OK), _outcome(ActionStatus.FAILED, 1, error_class="AccessDenied",
                                                         error_message="not allowed",
                                                         output={"called": {"operation": "PutPublicAccessBlock"}}))
    follow_up = ticket_follow_up(failed, _resolved())
    assert not follow_up.resolve
    assert "AccessDenied: not allowed" in follow_up.comment and "PutPublicAccessBlock" in follow_up.comment


def test_skipped_actions_say_why() -> None:
    action = aws_action("s3", "PutPublicAccessBlock", "payroll", {})
    skipped = skipped_outcome(action, 2, StepDecision.SKIP_AFTER_FAILURE, AT)
    assert skipped.status is ActionStatus.SKIPPED and "earlier action" in skipped.output["reason"]
    assert skipped.index == 2 and skipped.operation == "s3:PutPublicAccessBlock"


def test_the_audit_entries_link_the_alert_and_record_every_action_on_a_valid_chain() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    result = _result(_outcome(ActionStatus.OK, output={"state_after": {"Blocked": True},
                                                       "aws_secret_access_key": secret, "big": "y" * 40_000}))
    executed = execution_audit_entry(result, {"policy_family": "s3_public_access"})
    follow_up = ticket_follow_up(result, _resolved())
    rechecked = recheck_audit_entry(result, _resolved(), follow_up)
    chain = AuditChain("executor", clock=lambda: AT)

    records = [append_entry(chain, executed), append_entry(chain, rechecked)]

    assert verify_chain(records).ok
    assert [r.action for r in records] == ["remediation_executed", "remediation_rechecked"]
    assert all(r.alert_id == "P-1001" and r.actor == EXECUTOR_ACTOR and r.actor_type is ActorType.SYSTEM
               for r in records)
    assert [r.outcome for r in records] == ["ok", "resolved"]
    details = json.loads(records[0].details_json)
    assert details["plan_digest"] == "ab" * 32 and details["plan"] == {"policy_family": "s3_public_access"}
    assert details["actions"][0]["status"] == "ok" and details["actions"][0]["operation"] == "s3:PutPublicAccessBlock"
    assert secret not in records[0].details_json
    assert len(records[0].details_json) < MAX_AUDIT_OUTPUT_CHARS + 2_000  # oversized output is cut
    assert json.loads(records[1].details_json)["resolve_ticket"] is True


def test_a_dry_run_and_a_failure_are_audited_as_such() -> None:
    dry = execution_audit_entry(_result(_outcome(ActionStatus.DRY_RUN), dry_run=True))
    assert (dry.action, dry.outcome) == ("remediation_dry_run", "dry_run")
    failed = execution_audit_entry(_result(_outcome(ActionStatus.FAILED, error_class="TimeLimitExceeded")))
    assert (failed.action, failed.outcome) == ("remediation_executed", "failed")
    assert failed.details["actions"][0]["error_class"] == "TimeLimitExceeded"
