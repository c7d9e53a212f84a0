"""One approved plan from execution to what the ticket and the ledger need: :func:`execute_and_recheck`.

The executor stage (on Kafka, consuming approved decisions) calls this once per approved plan. It
runs the plan (in a worker thread: the plug-ins block on child processes), and after a real run that
changed something asks Prisma Cloud about the alert (:func:`connectors.prisma.recheck.recheck_alert`).
It returns an :class:`ExecutionReport`: the result, the re-check, the ticket follow-up and the audit
entries to append (each linked to the alert id). It writes nothing itself: the stage publishes the
audit records and updates the ticket in its own transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from connectors.execution.plan_executor import PlanExecutor
from connectors.prisma.recheck import AlertReader, recheck_alert
from processors.remediation.execution import ExecutionRequest, ExecutionResult
from processors.remediation.followup import (
    AuditEntry,
    Recheck,
    TicketFollowUp,
    execution_audit_entry,
    recheck_audit_entry,
    ticket_follow_up,
)

__all__ = ["ExecutionReport", "execute_and_recheck"]


@dataclass(frozen=True)
class ExecutionReport:
    """Everything one execution produced: result, re-check (None when none was due), ticket follow-up,
    audit entries in the order to append them."""

    result: ExecutionResult
    recheck: Recheck | None
    follow_up: TicketFollowUp
    audit_entries: tuple[AuditEntry, ...]


async def execute_and_recheck(request: ExecutionRequest, executor: PlanExecutor, prisma: AlertReader | None, *,
                              recheck_attempts: int = 1, recheck_interval_s: float = 0.0,
                              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> ExecutionReport:
    """Run ``request`` and, after a real run that changed something, re-check its alert (module doc).

    ``prisma`` None skips the re-check (the ticket then stays open until a later sync sees the alert
    resolved).
    """
    result = await asyncio.to_thread(executor.execute, request)
    plan = request.plan
    entries = [execution_audit_entry(result, {"policy_family": plan.policy_family, "cloud": plan.cloud.value,
                                              "account_id": plan.account_id, "region": plan.region,
                                              "resource_id": plan.resource_id})]
    recheck: Recheck | None = None
    if prisma is not None and not request.dry_run and result.changed_something and result.first_failure is None:
        recheck = await recheck_alert(prisma, plan.alert_id, attempts=recheck_attempts, interval_s=recheck_interval_s,
                                      sleep=sleep)
    follow_up = ticket_follow_up(result, recheck)
    if recheck is not None:
        entries.append(recheck_audit_entry(result, recheck, follow_up))
    return ExecutionReport(result=result, recheck=recheck, follow_up=follow_up, audit_entries=tuple(entries))
