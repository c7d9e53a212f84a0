"""After the executor ran: what Prisma Cloud says now, what the ticket should do, what the ledger records.

Pure functions over the executor's :class:`~processors.remediation.execution.ExecutionResult`:

* :func:`recheck_of` reads an alert as ``GET /alert/{id}`` returns it into a :class:`Recheck`
  (resolved, still open, or something else);
* :func:`ticket_follow_up` decides whether the ticket is resolved or left open, and the comment it
  gets (the failed action's output when the fix failed);
* :func:`execution_audit_entry` builds the audit entry (action, outcome, details) that
  :meth:`processors.audit.AuditChain.append` turns into a record on ``prisma.audit``, linked to the
  alert id.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from processors.audit import AuditChain
from processors.records import ActorType, AuditRecord
from processors.remediation.execution import (
    ActionOutcome,
    ActionStatus,
    ExecutionResult,
    StepDecision,
    clean_text,
)
from processors.remediation.plan import PlannedAction

__all__ = [
    "EXECUTOR_ACTOR",
    "AuditEntry",
    "Recheck",
    "RecheckStatus",
    "TicketFollowUp",
    "append_entry",
    "execution_audit_entry",
    "recheck_audit_entry",
    "recheck_of",
    "skipped_outcome",
    "ticket_follow_up",
]

#: The actor name of the executor's audit records.
EXECUTOR_ACTOR = "prismaflow-executor"
#: Largest JSON text one action's output may take in an audit record; larger output is cut.
MAX_AUDIT_OUTPUT_CHARS = 16_000


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def skipped_outcome(action: PlannedAction, index: int, decision: StepDecision, at: datetime) -> ActionOutcome:
    """The outcome of an action the executor did not run, saying why (a refusal is a failure)."""
    reasons = {
        StepDecision.SKIP_AFTER_FAILURE: "an earlier action of the plan failed",
        StepDecision.SKIP_NOT_EXECUTABLE: f"{action.kind.value} actions are not run by the executor "
                                          "(the owner's pipeline applies them)",
        StepDecision.SKIP_OUT_OF_TIME: "the plan's time limit was spent",
        StepDecision.REFUSE_DIGEST_MISMATCH: "the plan is not the one that was approved (its digest differs)",
    }
    reason = reasons.get(decision, decision.value)
    refused = decision is StepDecision.REFUSE_DIGEST_MISMATCH
    return ActionOutcome(index=index, kind=action.kind, target_resource=action.target_resource,
                         operation=f"{action.service}:{action.operation}" if action.service else "",
                         status=ActionStatus.FAILED if refused else ActionStatus.SKIPPED, output={"reason": reason},
                         error_class="DigestMismatch" if refused else "", error_message=reason if refused else "",
                         started_at=at, ended_at=at)


class RecheckStatus(str, Enum):
    """What Prisma Cloud says about the alert after the fix."""

    RESOLVED = "resolved"  # the scan no longer finds the misconfiguration
    STILL_OPEN = "still_open"  # not (yet) rescanned, or the fix did not work
    OTHER = "other"  # dismissed or snoozed by someone meanwhile
    NOT_FOUND = "not_found"  # the API does not know the alert
    UNREACHABLE = "unreachable"  # the API could not be asked


class Recheck(_Value):
    """The alert's state as Prisma Cloud reported it after execution."""

    alert_id: str
    status: RecheckStatus
    prisma_status: str = Field(default="", description="The API's own status value (open, resolved, ...)")
    reason: str = Field(default="", description="The API's reason for the status (e.g. RESOURCE_UPDATED)")
    attempts: int = Field(default=1, ge=0)
    detail: str = Field(default="", description="Why the check could not be made, when it could not")


def recheck_of(alert_id: str, alert: dict[str, Any], attempts: int = 1) -> Recheck:
    """The :class:`Recheck` an alert document (``GET /alert/{id}``) says."""
    status = str(alert.get("status") or "")
    kind = {"resolved": RecheckStatus.RESOLVED, "open": RecheckStatus.STILL_OPEN}.get(status, RecheckStatus.OTHER)
    return Recheck(alert_id=alert_id, status=kind, prisma_status=status, reason=clean_text(str(alert.get("reason") or "")),
                   attempts=attempts)


class TicketFollowUp(_Value):
    """What happens to the alert's ticket after execution: resolve it or leave it open, with a comment."""

    resolve: bool
    comment: str


def _describe(outcome: ActionOutcome) -> str:
    line = f"- {outcome.operation or outcome.kind.value} on {outcome.target_resource}: {outcome.status.value}"
    if outcome.error_class:
        line += f" ({outcome.error_class}: {outcome.error_message})"
    return line


def ticket_follow_up(result: ExecutionResult, recheck: Recheck | None) -> TicketFollowUp:
    """Resolve the ticket only when the fix ran for real, succeeded and Prisma Cloud reports the alert resolved.

    Otherwise the ticket stays open and its comment says why: the failed action with its error and
    output, or that the fix is applied and the next scan has not confirmed it yet.
    """
    steps = "\n".join(_describe(outcome) for outcome in result.outcomes)
    failure = result.first_failure
    if failure is not None:
        output = json.dumps(failure.output, sort_keys=True, ensure_ascii=False)[:MAX_AUDIT_OUTPUT_CHARS]
        return TicketFollowUp(resolve=False, comment=f"The fix failed; the ticket stays open.\n{steps}\n"
                                                     f"Output of the failed action:\n{output}")
    if result.dry_run:
        return TicketFollowUp(resolve=False, comment=f"Dry run of plan {result.plan_id}: nothing changed.\n{steps}")
    if not result.changed_something:
        return TicketFollowUp(resolve=False, comment=f"No action of plan {result.plan_id} ran.\n{steps}")
    if recheck is not None and recheck.status is RecheckStatus.RESOLVED:
        return TicketFollowUp(resolve=True, comment=f"Fix applied and confirmed: Prisma Cloud reports the alert "
                                                    f"resolved ({recheck.reason or 'no reason given'}).\n{steps}")
    said = recheck.status.value if recheck is not None else "not asked"
    return TicketFollowUp(resolve=False, comment=f"Fix applied; Prisma Cloud does not report the alert resolved yet "
                                                 f"(re-check: {said}); the ticket stays open until it does.\n{steps}")


class AuditEntry(_Value):
    """The fields of one audit record before the chain numbers, hashes and (later) signs it."""

    actor_type: ActorType = ActorType.SYSTEM
    actor: str = EXECUTOR_ACTOR
    action: str
    alert_id: str
    outcome: str
    details: dict[str, Any]


def _output_for_audit(output: dict[str, Any]) -> Any:
    text = json.dumps(output, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) <= MAX_AUDIT_OUTPUT_CHARS:
        return output
    return {"truncated": True, "chars": len(text), "excerpt": text[:MAX_AUDIT_OUTPUT_CHARS]}


def execution_audit_entry(result: ExecutionResult, plan_summary: dict[str, Any] | None = None) -> AuditEntry:
    """The audit entry of one execution: every action's status, error, output and times.

    ``action`` is ``remediation_dry_run`` or ``remediation_executed``; ``outcome`` is ``ok``,
    ``dry_run`` or ``failed``. ``plan_summary`` may add the plan's context (policy family, account).
    """
    failed = result.first_failure is not None
    outcome = "failed" if failed else ("dry_run" if result.dry_run else "ok")
    details: dict[str, Any] = {
        "plan_id": result.plan_id,
        "plan_digest": result.plan_digest,
        "dry_run": result.dry_run,
        "actions": [{
            "index": item.index, "kind": item.kind.value, "operation": item.operation,
            "target_resource": item.target_resource, "status": item.status.value,
            "error_class": item.error_class, "error_message": item.error_message,
            "started_at": item.started_at.isoformat(), "ended_at": item.ended_at.isoformat(),
            "output": _output_for_audit(item.output),
        } for item in result.outcomes],
        **({"plan": plan_summary} if plan_summary else {}),
    }
    return AuditEntry(action="remediation_dry_run" if result.dry_run else "remediation_executed",
                      alert_id=result.alert_id, outcome=outcome, details=details)


def recheck_audit_entry(result: ExecutionResult, recheck: Recheck, follow_up: TicketFollowUp) -> AuditEntry:
    """The audit entry of the re-check after an execution, and what it means for the ticket."""
    return AuditEntry(action="remediation_rechecked", alert_id=result.alert_id, outcome=recheck.status.value,
                      details={"plan_id": result.plan_id, "plan_digest": result.plan_digest,
                               "prisma_status": recheck.prisma_status, "reason": recheck.reason,
                               "attempts": recheck.attempts, "detail": recheck.detail,
                               "resolve_ticket": follow_up.resolve})


def append_entry(chain: AuditChain, entry: AuditEntry) -> AuditRecord:
    """Append ``entry`` to ``chain`` (which redacts its details once more) and return the record."""
    return chain.append(entry.actor_type, entry.actor, entry.action, alert_id=entry.alert_id, outcome=entry.outcome,
                        details=entry.details)
