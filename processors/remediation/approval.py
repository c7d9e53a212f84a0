"""Risk-tiered approval of remediation requests, as a pure state machine.

How many people must approve a plan depends on what it changes, never on what the request claims:
two distinct approvers for a production change (an unknown environment counts as production) or an
IAM change, one otherwise, none for an allowlisted low-risk fix outside production in ``auto`` mode
(:func:`required_approvals`). A request may run only when it has that many valid approvals — signed
(:mod:`processors.remediation.signing`), bound to the request's plan digest, given before the
request's deadline — and no valid rejection (:func:`may_run`).

A request's life (:class:`PendingRequest`): PENDING until enough approvals arrive (APPROVED), one
approver rejects it (REJECTED) or its SLA runs out (EXPIRED). Before it expires it is escalated once,
to the configured channel (:func:`tick`). APPROVED, REJECTED and EXPIRED are final; a rejected or
expired request never runs, whatever arrives later.

Time is always the record's: a vote counts at its ``decided_at``, the SLA is checked at the ``now``
the caller passes (the approval service's timer), so a replay gives the same answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from processors.models import Environment
from processors.records import ApprovalVote, Decision, RemediationDecision, RemediationRequest, RolloutMode
from processors.remediation.plan import ChangeRisk, RemediationPlan, canonical_json
from processors.remediation.signing import SigningKey, signature_valid

__all__ = [
    "ApprovalRules",
    "PendingRequest",
    "RequestStatus",
    "RunVerdict",
    "Transition",
    "apply_decision",
    "escalation_owed",
    "minimum_approvals",
    "may_run",
    "may_run_outcome",
    "new_request",
    "open_request",
    "required_approvals",
    "tick",
    "vote_problem",
]


class ApprovalRules(BaseModel):
    """The approval SLA: when an unanswered request is escalated, and when it expires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sla_hours: float = Field(default=24.0, gt=0, description="Hours an approver has before the request expires")
    escalate_after_hours: float = Field(
        default=18.0, gt=0, description="Hours after which a request still pending is escalated (before it expires)")
    escalation_channel: str = Field(default="#security-oncall",
                                    description="Chat channel or rota an overdue request is escalated to")


class RequestStatus(str, Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


_FINAL = (RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.EXPIRED)
_PRODUCTION_LIKE = (Environment.PROD, Environment.UNKNOWN)


def minimum_approvals(plan: RemediationPlan, mode: RolloutMode) -> int:
    """The fewest approvals ``plan`` can ever need: from its own environment, IAM flag and risk."""
    if plan.environment in _PRODUCTION_LIKE or plan.touches_iam:
        return 2
    if mode is RolloutMode.AUTO and plan.change_risk is ChangeRisk.LOW:
        return 0
    return 1


def required_approvals(plan: RemediationPlan, *, auto_allowlisted: bool) -> int:
    """Approvals a new request for ``plan`` needs: 2 for production (or unknown) or IAM, 0 for a
    fix the rollout policy lets run on its own (allowlisted, low risk, non-production), else 1."""
    if plan.environment in _PRODUCTION_LIKE or plan.touches_iam:
        return 2
    if auto_allowlisted and plan.change_risk is ChangeRisk.LOW:
        return 0
    return 1


def new_request(plan: RemediationPlan, *, mode: RolloutMode, requested_at: datetime, rules: ApprovalRules,
                auto_allowlisted: bool = False, requested_by: str = "system", request_id: str | None = None,
                incident_id: str | None = None) -> RemediationRequest:
    """The request that asks for ``plan`` to be approved, with its digest, approvals and deadlines."""
    plan_json = canonical_json(plan.model_dump(mode="json"))
    return RemediationRequest(
        request_id=request_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"prismaflow:{plan.digest()}")),
        alert_id=plan.alert_id, incident_id=incident_id, asset_id=plan.asset_id, mode=mode,
        environment=plan.environment, summary=plan.summary, requested_by=requested_by, requested_at=requested_at,
        expires_at=requested_at + timedelta(hours=rules.sla_hours),
        plan_id=plan.plan_id, policy_family=plan.policy_family, target_resource=plan.resource_id,
        change_risk=plan.change_risk, touches_iam=plan.touches_iam,
        required_approvals=required_approvals(plan, auto_allowlisted=auto_allowlisted and mode is RolloutMode.AUTO),
        plan_digest=plan.digest(), plan_json=plan_json,
        escalate_at=requested_at + timedelta(hours=min(rules.escalate_after_hours, rules.sla_hours)),
        escalation_channel=rules.escalation_channel,
        approval_path=_approval_path(plan, auto_allowlisted and mode is RolloutMode.AUTO),
    )


def _approval_path(plan: RemediationPlan, auto: bool) -> str:
    needed = required_approvals(plan, auto_allowlisted=auto)
    if needed == 0:
        return "none: allowlisted low-risk fix outside production (auto mode)"
    why = "production" if plan.environment in _PRODUCTION_LIKE else "IAM" if plan.touches_iam else "standard"
    return f"{needed} distinct approver{'s' if needed > 1 else ''} ({why} change)"


def _needed(request: RemediationRequest) -> int:
    """What the request needs: what it asks for, never fewer than its plan's own floor."""
    plan = request.plan()
    floor = minimum_approvals(plan, request.mode) if plan is not None else 2
    return max(request.required_approvals, floor)


def _who(approver: str | None) -> str:
    return (approver or "").strip().casefold()


def vote_problem(request: RemediationRequest, vote: RemediationDecision, keys: Mapping[str, SigningKey]) -> str | None:
    """Why ``vote`` does not count for ``request`` (None when it does)."""
    if vote.final:
        return "an outcome, not a vote"
    if vote.request_id != request.request_id:
        return "vote for another request"
    if vote.decision is Decision.EXPIRED:
        return "only the approval service expires a request"
    if not _who(vote.approver):
        return "vote without an approver"
    if not request.plan_digest or vote.plan_digest != request.plan_digest:
        return "vote for a different plan (digest mismatch)"
    if not signature_valid(vote, keys):
        return "signature does not verify"
    if vote.decided_at < request.requested_at:
        return "vote older than the request"
    if request.expires_at is not None and vote.decided_at > request.expires_at:
        return "vote given after the request expired"
    return None


@dataclass(frozen=True)
class RunVerdict:
    """Whether a request may run, and why not."""

    allowed: bool
    approvers: tuple[str, ...]
    reasons: tuple[str, ...]


def may_run(request: RemediationRequest, votes: Sequence[RemediationDecision], keys: Mapping[str, SigningKey],
            now: datetime) -> RunVerdict:
    """Whether ``request`` may run at ``now`` given ``votes``: enough distinct, valid approvals bound
    to its plan digest, none given after its deadline, no valid rejection, and not expired.

    The executor calls this (through :func:`may_run_outcome`) before it runs anything.
    """
    blocking: list[str] = []  # any one of these stops the run
    ignored: list[str] = []  # votes that count for nothing, said for the record
    if request.plan() is None:
        blocking.append("the request carries no plan")
    if request.mode is RolloutMode.MONITOR:
        blocking.append("monitor mode: nothing runs")
    if request.expires_at is not None and now > request.expires_at:
        blocking.append("the request expired")
    approvers: dict[str, str] = {}
    for vote in votes:
        problem = vote_problem(request, vote, keys)
        if problem is not None:
            ignored.append(f"{vote.approver or '?'}: {problem}")
        elif vote.decision is Decision.REJECTED:
            blocking.append(f"rejected by {vote.approver}")
        else:
            approvers.setdefault(_who(vote.approver), vote.approver or "")
    needed = _needed(request)
    if len(approvers) < needed:
        blocking.append(f"{len(approvers)} of {needed} distinct valid approvals")
    return RunVerdict(allowed=not blocking, approvers=tuple(sorted(approvers.values())),
                      reasons=tuple(blocking + ignored))


def may_run_outcome(request: RemediationRequest, outcome: RemediationDecision, keys: Mapping[str, SigningKey],
                    now: datetime) -> RunVerdict:
    """:func:`may_run` for an APPROVED outcome of the approval service: its approvals are checked
    again, each on its own signature, so a forged or altered outcome runs nothing."""
    if not outcome.final or outcome.decision is not Decision.APPROVED:
        return RunVerdict(False, (), ("not an APPROVED outcome",))
    if outcome.request_id != request.request_id or outcome.plan_digest != request.plan_digest:
        return RunVerdict(False, (), ("outcome for another request or plan",))
    votes = [RemediationDecision(request_id=request.request_id, alert_id=request.alert_id, asset_id=request.asset_id,
                                 decision=Decision.APPROVED, approver=a.approver, decided_at=a.decided_at,
                                 plan_digest=a.plan_digest, signature=a.signature, key_id=a.key_id)
             for a in outcome.approvals]
    return may_run(request, votes, keys, now)


# --- the state machine the approval service runs --------------------------------------------------


class PendingRequest(BaseModel):
    """A request and what has happened to it so far (the approval service's table value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: RemediationRequest
    status: RequestStatus = RequestStatus.PENDING
    approvals: tuple[RemediationDecision, ...] = ()
    rejection: RemediationDecision | None = None
    escalated: bool = False
    escalation_announced: bool = Field(
        default=False, description="Whether the escalation reached its channel (the service retries each tick until "
                                   "it does, while the request is pending)")

    @property
    def needed(self) -> int:
        return _needed(self.request)


@dataclass(frozen=True)
class Transition:
    """A new state, the outcome to publish if it just became final, whether to escalate now, and why."""

    state: PendingRequest
    outcome: RemediationDecision | None = None
    escalate: bool = False
    note: str = ""


def _outcome(state: PendingRequest, decision: Decision, at: datetime, approver: str | None = None,
             reason: str = "") -> RemediationDecision:
    request = state.request
    votes = [ApprovalVote(approver=v.approver or "", decided_at=v.decided_at, plan_digest=v.plan_digest,
                          signature=v.signature, key_id=v.key_id) for v in state.approvals]
    return RemediationDecision(request_id=request.request_id, alert_id=request.alert_id, asset_id=request.asset_id,
                               decision=decision, approver=approver, reason=reason, decided_at=at,
                               plan_digest=request.plan_digest, final=True,
                               approvals=votes if decision is Decision.APPROVED else [])


def open_request(request: RemediationRequest) -> Transition:
    """A new request: pending, approved at once when it needs no approval (auto mode), or rejected at
    once when it was made in monitor mode (where nothing may run; the planner should not make one)."""
    state = PendingRequest(request=request)
    if request.mode is RolloutMode.MONITOR:
        state = state.model_copy(update={"status": RequestStatus.REJECTED})
        return Transition(state, _outcome(state, Decision.REJECTED, request.requested_at,
                                          reason="monitor mode: nothing runs"), note="monitor")
    if state.needed == 0 and request.plan() is not None:
        state = state.model_copy(update={"status": RequestStatus.APPROVED})
        return Transition(state, _outcome(state, Decision.APPROVED, request.requested_at,
                                          reason="allowlisted auto fix: no approval required"), note="auto")
    return Transition(state, note="pending")


def apply_decision(state: PendingRequest, vote: RemediationDecision, keys: Mapping[str, SigningKey]) -> Transition:
    """Fold one approver's vote into ``state``; a vote that does not count changes nothing."""
    if state.status in _FINAL:
        return Transition(state, note=f"ignored: request already {state.status.value}")
    problem = vote_problem(state.request, vote, keys)
    if problem is not None:
        return Transition(state, note=f"ignored: {problem}")
    if vote.decision is Decision.REJECTED:
        state = state.model_copy(update={"status": RequestStatus.REJECTED, "rejection": vote})
        return Transition(state, _outcome(state, Decision.REJECTED, vote.decided_at, vote.approver, vote.reason),
                          note="rejected")
    if any(_who(held.approver) == _who(vote.approver) for held in state.approvals):
        return Transition(state, note=f"ignored: {vote.approver} already approved")
    state = state.model_copy(update={"approvals": (*state.approvals, vote)})
    if len(state.approvals) >= state.needed:
        state = state.model_copy(update={"status": RequestStatus.APPROVED})
        return Transition(state, _outcome(state, Decision.APPROVED, vote.decided_at,
                                          reason=f"{len(state.approvals)} of {state.needed} approvals"),
                          note="approved")
    return Transition(state, note=f"{len(state.approvals)} of {state.needed} approvals")


def tick(state: PendingRequest, now: datetime) -> Transition:
    """The SLA at ``now``: a pending request past its deadline expires; one past its escalation time
    is escalated once."""
    if state.status in _FINAL:
        return Transition(state)
    request = state.request
    if request.expires_at is not None and now > request.expires_at:
        state = state.model_copy(update={"status": RequestStatus.EXPIRED})
        return Transition(state, _outcome(state, Decision.EXPIRED, request.expires_at,
                                          reason="no decision within the approval SLA"), note="expired")
    if not state.escalated and request.escalate_at is not None and now >= request.escalate_at:
        return Transition(state.model_copy(update={"escalated": True}), escalate=True, note="escalated")
    return Transition(state)


def escalation_owed(state: PendingRequest) -> bool:
    """Whether ``state`` was escalated but the escalation has not reached its channel yet (and still may:
    a request no longer pending is not announced)."""
    return state.status is RequestStatus.PENDING and state.escalated and not state.escalation_announced
