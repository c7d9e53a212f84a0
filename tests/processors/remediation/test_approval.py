"""Risk-tiered approval: who must approve what, and when a request may run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from processors.models import Cloud, Environment
from processors.records import Decision, RemediationDecision, RemediationRequest, RolloutMode
from processors.remediation.approval import (
    ApprovalRules,
    RequestStatus,
    apply_decision,
    escalation_owed,
    may_run,
    may_run_outcome,
    new_request,
    open_request,
    required_approvals,
    tick,
)
from processors.remediation.plan import ActionKind, ChangeRisk, PlannedAction, RemediationPlan
from processors.remediation.signing import SigningKey, sign_decision

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = SigningKey("k1", b"test-approval-signing-key-0001")
KEYS = {KEY.key_id: KEY}
RULES = ApprovalRules(sla_hours=24, escalate_after_hours=18, escalation_channel="#sec-oncall")


def _iam_plan(**overrides: Any) -> RemediationPlan:
    """A production IAM fix: detach an admin policy from a role."""
    fields: dict[str, Any] = {
        "plan_id": "plan-iam-1", "alert_id": "P-2001", "asset_id": "aws:123456789012:global:iam-role:ci-deployer",
        "policy_family": "iam_policy_attachment", "cloud": Cloud.AWS, "account_id": "123456789012",
        "resource_id": "ci-deployer", "environment": Environment.PROD, "touches_iam": True,
        "change_risk": ChangeRisk.HIGH, "summary": "Detach AdministratorAccess from ci-deployer",
        "actions": (PlannedAction(kind=ActionKind.AWS_API, target_resource="ci-deployer", service="iam",
                                  operation="DetachRolePolicy",
                                  parameters={"RoleName": "ci-deployer",
                                              "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),),
    }
    fields.update(overrides)
    return RemediationPlan.model_validate(fields)


def _bucket_plan(environment: Environment = Environment.DEV, risk: ChangeRisk = ChangeRisk.LOW) -> RemediationPlan:
    return RemediationPlan(
        plan_id="plan-s3-1", alert_id="P-1001", asset_id="aws:123456789012:us-east-1:s3:bucket/build-cache",
        policy_family="s3_public_access", cloud=Cloud.AWS, resource_id="build-cache", environment=environment,
        change_risk=risk,
        actions=(PlannedAction(kind=ActionKind.AWS_API, target_resource="build-cache", service="s3",
                               operation="PutPublicAccessBlock",
                               parameters={"Bucket": "build-cache", "PublicAccessBlockConfiguration": {
                                   "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                                   "RestrictPublicBuckets": True}}),))


def _request(plan: RemediationPlan | None = None, mode: RolloutMode = RolloutMode.ASSIST,
             auto: bool = False) -> RemediationRequest:
    return new_request(plan or _iam_plan(), mode=mode, requested_at=T0, rules=RULES, auto_allowlisted=auto)


def _vote(request: RemediationRequest, approver: str, *, hours: float = 1, decision: Decision = Decision.APPROVED,
          digest: str | None = None, key: SigningKey = KEY) -> RemediationDecision:
    unsigned = RemediationDecision(request_id=request.request_id, alert_id=request.alert_id,
                                   asset_id=request.asset_id, decision=decision, approver=approver,
                                   decided_at=T0 + timedelta(hours=hours),
                                   plan_digest=request.plan_digest if digest is None else digest)
    return sign_decision(unsigned, key)


# --- how many approvals ---------------------------------------------------------------------------


def test_production_or_iam_changes_need_two_approvers_others_one_allowlisted_auto_fixes_none() -> None:
    assert required_approvals(_iam_plan(), auto_allowlisted=False) == 2
    assert required_approvals(_iam_plan(environment=Environment.DEV), auto_allowlisted=True) == 2
    assert required_approvals(_bucket_plan(Environment.PROD), auto_allowlisted=True) == 2
    assert required_approvals(_bucket_plan(Environment.UNKNOWN), auto_allowlisted=True) == 2  # unknown = production
    assert required_approvals(_bucket_plan(Environment.DEV), auto_allowlisted=False) == 1
    assert required_approvals(_bucket_plan(Environment.DEV, ChangeRisk.MEDIUM), auto_allowlisted=True) == 1
    assert required_approvals(_bucket_plan(Environment.DEV), auto_allowlisted=True) == 0


def test_a_request_carries_its_plan_digest_deadlines_and_approvals() -> None:
    request = _request()
    assert request.plan() == _iam_plan()
    assert request.plan_digest == _iam_plan().digest()
    assert (request.required_approvals, request.touches_iam, request.target_resource) == (2, True, "ci-deployer")
    assert request.expires_at == T0 + timedelta(hours=24)
    assert request.escalate_at == T0 + timedelta(hours=18)
    assert request.escalation_channel == "#sec-oncall"


def test_a_request_whose_digest_is_not_its_plans_is_refused() -> None:
    with pytest.raises(ValidationError, match="plan_digest"):
        RemediationRequest.model_validate(_request().model_dump() | {"plan_digest": _bucket_plan().digest()})


# --- acceptance: a production IAM fix cannot run ... ----------------------------------------------


def test_a_production_iam_fix_cannot_run_with_one_approval() -> None:
    request = _request()
    verdict = may_run(request, [_vote(request, "alice@example.com")], KEYS, T0 + timedelta(hours=2))
    assert not verdict.allowed
    assert "1 of 2 distinct valid approvals" in verdict.reasons
    assert may_run(request, [_vote(request, "alice@example.com"), _vote(request, "bob@example.com")], KEYS,
                   T0 + timedelta(hours=2)).allowed


def test_a_production_iam_fix_cannot_run_with_an_expired_approval() -> None:
    request = _request()
    late = _vote(request, "bob@example.com", hours=25)  # given after the 24 h deadline
    verdict = may_run(request, [_vote(request, "alice@example.com"), late], KEYS, T0 + timedelta(hours=23))
    assert not verdict.allowed
    assert "bob@example.com: vote given after the request expired" in verdict.reasons
    # Nor with two good approvals once the request itself has expired.
    both = [_vote(request, "alice@example.com"), _vote(request, "bob@example.com")]
    assert not may_run(request, both, KEYS, T0 + timedelta(hours=24, seconds=1)).allowed


def test_a_production_iam_fix_cannot_run_with_an_approval_signed_for_a_different_plan() -> None:
    request = _request()
    other_digest = _iam_plan(resource_id="payments-admin").digest()
    for_other_plan = _vote(request, "bob@example.com", digest=other_digest)
    verdict = may_run(request, [_vote(request, "alice@example.com"), for_other_plan], KEYS, T0 + timedelta(hours=2))
    assert not verdict.allowed
    assert "bob@example.com: vote for a different plan (digest mismatch)" in verdict.reasons


def test_an_approval_whose_signature_does_not_match_its_content_counts_for_nothing() -> None:
    request = _request()
    good = _vote(request, "bob@example.com")
    replayed_as_carol = good.model_copy(update={"approver": "carol@example.com"})  # signature over bob's vote
    forged_key = _vote(request, "dave@example.com", key=SigningKey("k1", b"not-the-service-key-000000"))
    unknown_key = _vote(request, "erin@example.com", key=SigningKey("k9", b"test-approval-signing-key-0001"))
    votes = [_vote(request, "alice@example.com"), replayed_as_carol, forged_key, unknown_key]
    verdict = may_run(request, votes, KEYS, T0 + timedelta(hours=2))
    assert not verdict.allowed
    assert {r for r in verdict.reasons if "signature" in r} == {
        "carol@example.com: signature does not verify", "dave@example.com: signature does not verify",
        "erin@example.com: signature does not verify"}


def test_two_approvals_by_the_same_person_count_once() -> None:
    request = _request()
    twice = [_vote(request, "alice@example.com", hours=1), _vote(request, "Alice@Example.com ", hours=2)]
    verdict = may_run(request, twice, KEYS, T0 + timedelta(hours=3))
    assert not verdict.allowed
    assert verdict.approvers == ("alice@example.com",)

    state = open_request(request).state
    state = apply_decision(state, twice[0], KEYS).state
    step = apply_decision(state, twice[1], KEYS)
    assert step.state.status is RequestStatus.PENDING and step.outcome is None
    assert step.note == "ignored: Alice@Example.com  already approved"


def test_a_request_cannot_claim_fewer_approvals_than_its_plan_needs() -> None:
    forged = _request().model_copy(update={"required_approvals": 0})
    assert not may_run(forged, [_vote(forged, "alice@example.com")], KEYS, T0 + timedelta(hours=1)).allowed


def test_a_rejected_request_never_runs_even_with_enough_approvals() -> None:
    request = _request()
    votes = [_vote(request, "alice@example.com"), _vote(request, "bob@example.com"),
             _vote(request, "carol@example.com", decision=Decision.REJECTED)]
    verdict = may_run(request, votes, KEYS, T0 + timedelta(hours=2))
    assert not verdict.allowed and "rejected by carol@example.com" in verdict.reasons


# --- the state machine ----------------------------------------------------------------------------


def test_two_distinct_approvals_make_a_production_request_executable_with_a_verifiable_outcome() -> None:
    request = _request()
    state = open_request(request).state
    first = apply_decision(state, _vote(request, "alice@example.com"), KEYS)
    assert first.outcome is None and first.note == "1 of 2 approvals"
    second = apply_decision(first.state, _vote(request, "bob@example.com", hours=2), KEYS)
    assert second.state.status is RequestStatus.APPROVED
    outcome = second.outcome
    assert outcome is not None and outcome.final and outcome.decision is Decision.APPROVED
    assert [a.approver for a in outcome.approvals] == ["alice@example.com", "bob@example.com"]
    assert outcome.plan_digest == request.plan_digest
    assert may_run_outcome(request, outcome, KEYS, T0 + timedelta(hours=3)).allowed
    # An outcome altered after the fact (an approval dropped and another's identity swapped in) runs nothing.
    altered = outcome.model_copy(update={"approvals": [outcome.approvals[0], outcome.approvals[0].model_copy(
        update={"approver": "mallory@example.com"})]})
    assert not may_run_outcome(request, altered, KEYS, T0 + timedelta(hours=3)).allowed


def test_a_rejection_is_final_and_later_approvals_change_nothing() -> None:
    request = _request()
    state = open_request(request).state
    rejected = apply_decision(state, _vote(request, "alice@example.com", decision=Decision.REJECTED), KEYS)
    assert rejected.state.status is RequestStatus.REJECTED
    assert rejected.outcome is not None and rejected.outcome.decision is Decision.REJECTED
    after = apply_decision(rejected.state, _vote(request, "bob@example.com"), KEYS)
    assert after.state.status is RequestStatus.REJECTED and after.outcome is None


def test_the_sla_escalates_once_then_expires_and_an_expired_request_never_runs() -> None:
    request = _request()
    state = open_request(request).state
    assert tick(state, T0 + timedelta(hours=17)).escalate is False
    escalation = tick(state, T0 + timedelta(hours=18))
    assert escalation.escalate and escalation.state.escalated
    assert tick(escalation.state, T0 + timedelta(hours=20)).escalate is False  # once
    expiry = tick(escalation.state, T0 + timedelta(hours=24, minutes=1))
    assert expiry.state.status is RequestStatus.EXPIRED
    assert expiry.outcome is not None and expiry.outcome.decision is Decision.EXPIRED
    assert expiry.outcome.decided_at == request.expires_at
    late = apply_decision(expiry.state, _vote(request, "alice@example.com", hours=2), KEYS)
    assert late.state.status is RequestStatus.EXPIRED and late.outcome is None


def test_an_escalation_is_owed_to_its_channel_until_announced_and_never_after_the_request_is_final() -> None:
    state = open_request(_request()).state
    assert not escalation_owed(state)  # not escalated yet
    escalated = tick(state, T0 + timedelta(hours=18)).state
    assert escalation_owed(escalated)
    assert escalation_owed(tick(escalated, T0 + timedelta(hours=19)).state)  # still owed on the next tick
    assert not escalation_owed(escalated.model_copy(update={"escalation_announced": True}))
    assert not escalation_owed(tick(escalated, T0 + timedelta(hours=25)).state)  # expired: nothing to announce


def test_an_allowlisted_auto_fix_outside_production_is_approved_on_arrival() -> None:
    request = _request(_bucket_plan(Environment.DEV), mode=RolloutMode.AUTO, auto=True)
    assert request.required_approvals == 0
    opened = open_request(request)
    assert opened.state.status is RequestStatus.APPROVED
    assert opened.outcome is not None and opened.outcome.approvals == []
    assert may_run_outcome(request, opened.outcome, KEYS, T0 + timedelta(minutes=1)).allowed
    # The same plan in assist mode waits for one approver.
    assert open_request(_request(_bucket_plan(Environment.DEV), auto=True)).state.status is RequestStatus.PENDING


def test_a_request_made_in_monitor_mode_never_runs() -> None:
    request = _request(_bucket_plan(Environment.DEV), mode=RolloutMode.MONITOR)
    opened = open_request(request)
    assert opened.state.status is RequestStatus.REJECTED
    assert opened.outcome is not None and opened.outcome.reason == "monitor mode: nothing runs"
    verdict = may_run(request, [_vote(request, "alice@example.com")], KEYS, T0 + timedelta(hours=1))
    assert not verdict.allowed and "monitor mode: nothing runs" in verdict.reasons
