"""The remediation-request stage: scored alerts in, remediation requests and audit records out.

Runs on the project's worker loop (:class:`streams.worker.TransactionalWorker`), like the core stages:
throughput matters here (every scored alert passes), exactly-once output does too, and faust's
strengths (tables, timers, web views) are the approval service's, not this stage's. For each scored
alert it asks :func:`processors.remediation.intake.intake` what to do and writes, in the worker's
transaction, the audit records (each linked to the alert id) and the :class:`RemediationRequest` on
``prisma.remediations`` (keyed by request id; a monitor-mode shadow record too). A request that waits
for approval is announced — ticket set to *Pending Approval*, chat message with buttons and the signed
console link — through :class:`streams.remediation.announce.RequestAnnouncer`, before the transaction
commits: a crash in between announces again, which finds the same ticket (idempotent per request id).

For a CIEM alert of the least-privilege family the stage first asks Prisma's IAM permission search
(the :class:`~processors.remediation.ports.PermissionSearch` port) for the records of the alert's
identity, which the pure planner reduces to a least-privilege policy. A failed search is audited
(``remediation_permission_search_failed``) and leaves that alert without a planner plan.

In ``auto`` mode it also dismisses known false positives: an alert the history suggests dismissing,
whose family the rollout policy lists under ``auto_dismiss`` and whose environment is not production
(:func:`processors.remediation.dismissal.decide_dismissal`), is dismissed through Prisma Cloud's
``POST /alert/dismiss`` (the ``dismisser``) and audited as ``alert_auto_dismissed`` (or
``alert_auto_dismiss_failed`` with the error: the alert stays open and is dismissed when it comes again).
Never in ``assist`` or ``monitor``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from connectors.base import ConnectorError

from processors.models import RiskTier, ScoredAlert
from processors.records import Analysis
from processors.remediation.approval import ApprovalRules
from processors.remediation.dismissal import decide_dismissal, dismissal_note
from processors.remediation.families import FamilyCatalog
from processors.remediation.followup import AuditEntry
from processors.remediation.ciem_plan import permission_identity
from processors.remediation.intake import INTAKE_ACTOR, intake, wants
from processors.remediation.least_privilege import PermissionRecord
from processors.remediation.modes import RolloutPolicy
from processors.remediation.planner import PlannerSettings
from processors.remediation.ports import PermissionSearch
from processors.remediation.propose import ValidationPorts
from streams.audit import AuditWriter
from streams.publish import OutgoingRecord
from streams.remediation.own_loop import OwnEventLoop
from streams.remediation.announce import RequestAnnouncer
from streams.stage import InputMessage
from streams.state_store import StateStore
from streams.topics import REMEDIATIONS, SCORED_ALERTS

__all__ = ["AlertDismisser", "RemediationRequestStage", "audit_records"]

log = logging.getLogger(__name__)


class AlertDismisser(Protocol):
    """Prisma Cloud's alert dismissal (:meth:`connectors.prisma.cspm_client.CspmClient.dismiss_alerts`)."""

    async def dismiss_alerts(self, alert_ids: Sequence[str], note: str) -> None: ...


def audit_records(audit: AuditWriter, entries: Sequence[AuditEntry]) -> list[OutgoingRecord]:
    """The audit records of ``entries``, appended to ``audit``'s chain."""
    return [audit.record(entry.actor_type.value, entry.actor, entry.action, alert_id=entry.alert_id,
                         outcome=entry.outcome, details=entry.details) for entry in entries]


class RemediationRequestStage(OwnEventLoop):
    """Scored alert → intake → audit records, request, announcement (module docstring)."""

    name = "remediation-requests"
    input_model = ScoredAlert
    state: StateStore | None = None

    def __init__(self, *, families: FamilyCatalog, ports: ValidationPorts, policy: RolloutPolicy,
                 rules: ApprovalRules, audit: AuditWriter, announcer: RequestAnnouncer | None = None,
                 analyses: Callable[[str], Analysis | None] | None = None, planner: PlannerSettings | None = None,
                 min_tier: RiskTier = RiskTier.HIGH, topic_prefix: str = "",
                 permissions: PermissionSearch | None = None,
                 dismisser: AlertDismisser | None = None) -> None:
        self.families, self.ports, self.policy, self.rules = families, ports, policy, rules
        self.permissions, self.dismisser = permissions, dismisser
        self.audit, self.announcer, self.analyses, self.planner = audit, announcer, analyses, planner
        self.min_tier = min_tier
        self.input_topic = topic_prefix + SCORED_ALERTS.name
        self.requests_topic = topic_prefix + REMEDIATIONS.name
        self._loop_held: asyncio.AbstractEventLoop | None = None  # the HTTP clients' loop, made on first use

    def _dismissal(self, record: ScoredAlert) -> list[AuditEntry]:
        """Dismiss ``record`` in Prisma Cloud when auto mode allows it (module docstring); its audit entry."""
        verdict = decide_dismissal(record, self.families, self.policy) if self.dismisser is not None else None
        if verdict is None or not verdict.dismiss:
            return []
        assert self.dismisser is not None
        alert_id, note = record.alert.alert_id, dismissal_note(record)
        details = {"mode": verdict.mode.value, "policy_family": verdict.family, "reason": verdict.reason, "note": note}
        try:
            self._loop().run_until_complete(self.dismisser.dismiss_alerts([alert_id], note))
        except Exception as exc:  # noqa: BLE001 - Prisma down: audited, the alert stays open and comes again
            error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("auto dismissal failed alert_id=%s error=%s", alert_id, type(exc).__name__)
            return [AuditEntry(actor=INTAKE_ACTOR, action="alert_auto_dismiss_failed", alert_id=alert_id,
                               outcome="failed", details={**details, "error": error})]
        log.info("alert dismissed in auto mode alert_id=%s family=%s", alert_id, verdict.family)
        return [AuditEntry(actor=INTAKE_ACTOR, action="alert_auto_dismissed", alert_id=alert_id, outcome="ok",
                           details=details)]

    def discard_uncommitted(self) -> None:
        """Outputs thrown away: the audit chain goes on from the topic's last committed record."""
        self.audit.discard_unwritten()

    def handle(self, record: ScoredAlert, message: InputMessage) -> Sequence[OutgoingRecord]:
        dismissed = self._dismissal(record)
        if dismissed:
            return audit_records(self.audit, dismissed)
        analysis = self.analyses(record.alert.alert_id) if self.analyses is not None else None
        records, failed = self._permissions(record)
        step = intake(record, families=self.families, ports=self.ports, policy=self.policy, rules=self.rules,
                      analysis=analysis, planner=self.planner, min_tier=self.min_tier, permissions=records)
        entries = [*failed, *step.audit]
        out: list[OutgoingRecord] = []
        if step.request is not None:
            out.append(OutgoingRecord(self.requests_topic, step.request.request_id, step.request))
            if step.announce and self.announcer is not None:
                announced = self._loop().run_until_complete(self.announcer.announce(step.request))
                entries.append(AuditEntry(actor=INTAKE_ACTOR, action="remediation_announced",
                                          alert_id=step.alert_id, outcome="ok",
                                          details={"request_id": step.request.request_id, "ticket": announced.ticket,
                                                   "ticket_status": "Pending Approval" if announced.ticket else None,
                                                   "chat_posted": announced.chat_posted}))
            log.info("remediation request alert_id=%s request_id=%s mode=%s approvals=%d", step.alert_id,
                     step.request.request_id, step.request.mode.value, step.request.required_approvals)
        return [*audit_records(self.audit, entries), *out]

    def _permissions(self, record: ScoredAlert) -> tuple[Sequence[PermissionRecord] | None, list[AuditEntry]]:
        """The permission records of a CIEM alert's identity (None for other alerts), and the audit
        entry of a search that failed."""
        if self.permissions is None or not wants(record, self.min_tier):
            return None, []
        identity = permission_identity(record, self.families)
        if identity is None:
            return None, []
        try:
            return self._loop().run_until_complete(self.permissions.permissions_of(identity)), []
        except ConnectorError as exc:
            log.warning("permission search failed alert_id=%s error=%s status=%s", record.alert.alert_id,
                        type(exc).__name__, exc.status_code)
            return None, [AuditEntry(actor=INTAKE_ACTOR, action="remediation_permission_search_failed",
                                     alert_id=record.alert.alert_id, outcome="error",
                                     details={"error": type(exc).__name__, "status": exc.status_code})]
