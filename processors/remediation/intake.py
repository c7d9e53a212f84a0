"""From one scored alert to what the remediation path does with it: the remediation-request stage's logic.

:func:`intake` is pure (record time, no I/O). For a high-risk alert (at least ``min_tier``, open, not
suggested for dismissal) it proposes a fix (:func:`processors.remediation.propose.propose_fix`: the
planner, else the analysis' steps, always validated), asks the rollout policy what may happen
(:func:`processors.remediation.modes.decide_mode`) and returns:

- ``request``: the :class:`RemediationRequest` to publish on ``prisma.remediations``. In ``assist`` and
  ``auto`` it waits for its approvals (none for an allowlisted auto fix). In ``monitor`` it is a
  *shadow record*: made with mode ``monitor``, which the approval service rejects at once and the
  executor never runs (:func:`processors.remediation.approval.may_run`), so nobody is asked and nothing
  runs, yet ``prismaflow report shadow`` sees the plan a looser mode would have requested.
- ``announce``: whether people are asked (ticket set to Pending Approval, chat message): only for a
  request that waits for approval, never in monitor mode.
- ``audit``: every step as an audit entry linked to the alert id — the proposal (or why there is none),
  a refused plan with the validator's reasons (a refused plan never becomes a request), the mode's
  verdict, and the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.records import ActorType, Analysis, RemediationRequest, RolloutMode
from processors.remediation.approval import ApprovalRules, new_request
from processors.remediation.families import FamilyCatalog
from processors.remediation.followup import AuditEntry
from processors.remediation.least_privilege import PermissionRecord
from processors.remediation.modes import ModeAction, RolloutPolicy, auto_allowed, decide_mode, looser
from processors.remediation.planner import PlannerSettings
from processors.remediation.propose import Proposal, ValidationPorts, propose_fix

__all__ = ["INTAKE_ACTOR", "Intake", "intake", "wants"]

#: The actor of the intake's audit records.
INTAKE_ACTOR = "remediation-intake"

_TIERS = (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL)


@dataclass(frozen=True)
class Intake:
    """What the remediation path does with one scored alert (see the module docstring)."""

    alert_id: str
    proposal: Proposal | None = None
    request: RemediationRequest | None = None
    announce: bool = False
    audit: tuple[AuditEntry, ...] = field(default=())


def wants(scored: ScoredAlert, min_tier: RiskTier = RiskTier.HIGH) -> bool:
    """Whether ``scored`` is for the remediation path: open, at least ``min_tier``, not a likely false
    positive, and the alert's own record (not a member re-emitted for its incident)."""
    return (scored.alert.status is AlertStatus.OPEN and not scored.suggested_dismissal and not scored.incident_update
            and _TIERS.index(scored.tier) >= _TIERS.index(min_tier))


def _entry(action: str, alert_id: str, outcome: str, details: dict[str, Any]) -> AuditEntry:
    return AuditEntry(actor_type=ActorType.SYSTEM, actor=INTAKE_ACTOR, action=action, alert_id=alert_id,
                      outcome=outcome, details=details)


def intake(scored: ScoredAlert, *, families: FamilyCatalog, ports: ValidationPorts, policy: RolloutPolicy,
           rules: ApprovalRules, analysis: Analysis | None = None, planner: PlannerSettings | None = None,
           min_tier: RiskTier = RiskTier.HIGH, permissions: Sequence[PermissionRecord] | None = None) -> Intake:
    """The proposal, request and audit entries for ``scored`` (module docstring); requested at its scoring time.

    ``permissions``: for a CIEM alert, its identity's permission records, which the caller fetched
    (:func:`processors.remediation.ciem_plan.permission_identity` says whose)."""
    alert_id = scored.alert.alert_id
    if not wants(scored, min_tier):
        return Intake(alert_id)
    proposal = propose_fix(scored, families, ports, analysis, planner, permissions)
    base = {"policy_family": proposal.family, "source": proposal.source.value if proposal.source else None,
            "notes": list(proposal.notes)}
    if proposal.plan is None:
        return Intake(alert_id, proposal, audit=(_entry("remediation_no_plan", alert_id, "skipped", base),))
    plan = proposal.plan
    planned = _entry("remediation_planned", alert_id, "ok", {**base, "plan_id": plan.plan_id,
                                                             "plan_digest": plan.digest(), "summary": plan.summary})
    if not proposal.accepted:
        reasons = list(proposal.verdict.reasons) if proposal.verdict is not None else ["not validated"]
        refused = _entry("remediation_plan_refused", alert_id, "refused",
                         {"plan_id": plan.plan_id, "plan_digest": plan.digest(), "reasons": reasons})
        return Intake(alert_id, proposal, audit=(planned, refused))
    outcome = decide_mode(scored, plan, policy)
    mode_details: dict[str, Any] = {"mode": outcome.mode.value, "action": outcome.action.value,
                                    "reason": outcome.reason, "plan_digest": plan.digest()}
    if outcome.mode is RolloutMode.MONITOR:
        would = decide_mode(scored, plan, policy, mode=looser(RolloutMode.MONITOR))
        mode_details["would_have"] = {"mode": would.mode.value, "action": would.action.value,
                                      "required_approvals": would.required_approvals}
    decided = _entry("remediation_mode", alert_id, "ok", mode_details)
    if outcome.mode is not RolloutMode.MONITOR and outcome.action is ModeAction.NONE:
        return Intake(alert_id, proposal, audit=(planned, decided))
    request = new_request(plan, mode=outcome.mode, requested_at=scored.scored_at, rules=rules,
                          auto_allowlisted=outcome.mode is RolloutMode.AUTO and auto_allowed(plan, policy),
                          requested_by=INTAKE_ACTOR, incident_id=scored.incident_id)
    shadow = outcome.mode is RolloutMode.MONITOR
    requested = _entry("remediation_shadow_recorded" if shadow else "remediation_request_created", alert_id, "ok",
                       {"request_id": request.request_id, "plan_digest": request.plan_digest,
                        "mode": request.mode.value, "required_approvals": request.required_approvals,
                        "target_resource": request.target_resource,
                        "expires_at": request.expires_at.isoformat() if request.expires_at else None})
    announce = not shadow and request.required_approvals > 0
    return Intake(alert_id, proposal, request, announce, (planned, decided, requested))
