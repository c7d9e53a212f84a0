"""The executor stage: the approval service's final outcomes in, approved fixes run in the sandbox.

Consumes ``prisma.remediations.decisions`` on the project's worker loop and acts on the approval
service's final APPROVED outcomes only. The topic is not trusted on its own: the request is read back
from ``prisma.remediations`` (the approval service never writes it) and
:func:`processors.remediation.approval.may_run_outcome` re-checks every approval — signature under
the decision keys, the plan digest, distinct approvers enough for the plan's risk, the deadline, the
mode. Only then does :func:`connectors.execution.execute_and_recheck` run the plan through the
sandboxed executor (the plan must still have the approved digest) and ask Prisma Cloud about the
alert. The stage writes the audit entries (the execution with every action's output, the re-check,
the ticket follow-up; all on the alert id) and resolves the request's ticket or leaves it open with
the output.

Outcomes are at least once: work is keyed by request id. A request this executor ran (its
``remediation_run`` audit record, read back from the ledger on start) or refused is not run again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.execution import PlanExecutor, execute_and_recheck
from connectors.prisma.recheck import AlertReader
from processors.records import ActorType, Decision, RemediationDecision, RemediationRequest
from processors.remediation.approval import may_run_outcome
from processors.remediation.execution import ExecutionRequest
from processors.remediation.followup import AuditEntry
from processors.remediation.signing import SigningKey
from streams.audit import AuditWriter, read_chains
from streams.publish import OutgoingRecord
from streams.remediation.own_loop import OwnEventLoop
from streams.remediation.announce import TicketFollowUps
from streams.remediation.request_stage import audit_records
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.stage import InputMessage
from streams.state_store import StateStore
from streams.topic_reader import read_to_end
from streams.topics import AUDIT, REMEDIATION_DECISIONS, REMEDIATIONS

__all__ = ["EXECUTOR_STAGE_ACTOR", "ExecutorStage"]

log = logging.getLogger(__name__)

EXECUTOR_STAGE_ACTOR = "remediation-executor"


class ExecutorStage(OwnEventLoop):
    """Final APPROVED outcome → re-verify → execute and re-check → audit and ticket (module docstring)."""

    name = "remediation-executor"
    input_model = RemediationDecision
    state: StateStore | None = None

    def __init__(self, *, kafka: KafkaSettings, serde: AvroSerde, keys: dict[str, SigningKey], executor: PlanExecutor,
                 audit: AuditWriter, prisma: AlertReader | None = None, tickets: TicketFollowUps | None = None,
                 dry_run: bool = True, time_limit_s: float = 120.0, topic_prefix: str = "",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.kafka, self.serde, self.keys, self.executor = kafka, serde, keys, executor
        self.audit, self.prisma, self.tickets, self.clock = audit, prisma, tickets, clock
        self.dry_run, self.time_limit_s = dry_run, time_limit_s
        self.input_topic = topic_prefix + REMEDIATION_DECISIONS.name
        self.requests_topic = topic_prefix + REMEDIATIONS.name
        self.audit_topic = topic_prefix + AUDIT.name
        self._requests: dict[str, RemediationRequest] = {}
        self._settled: set[str] | None = None  # request ids already run or refused (None: not read yet)
        self._loop_held: asyncio.AbstractEventLoop | None = None  # the HTTP clients' loop, made on first use

    # -- what is known ----------------------------------------------------------------------------
    def _settled_ids(self) -> set[str]:
        if self._settled is None:
            self._settled = {str(details.get("request_id")) for details in self._own_audit_details()}
        return self._settled

    def _own_audit_details(self) -> list[dict[str, Any]]:
        found = []
        for records in read_chains(self.kafka, self.serde, self.audit_topic).values():
            for record in records:
                if record.actor == EXECUTOR_STAGE_ACTOR and record.action in ("remediation_run", "remediation_run_refused"):
                    found.append(json.loads(record.details_json))
        return found

    def _request(self, request_id: str) -> RemediationRequest | None:
        if request_id not in self._requests:
            for message in read_to_end(self.kafka, self.requests_topic, purpose="executor-requests"):
                request = self.serde.decode(message.value() or b"", RemediationRequest, topic=self.requests_topic)
                self._requests[request.request_id] = request
        return self._requests.get(request_id)

    # -- the stage --------------------------------------------------------------------------------
    def discard_uncommitted(self) -> None:
        """Outputs thrown away: the audit chain and the requests settled go back to the topic's. A plan
        that ran in the lost transaction runs again (the actions are idempotent) and is recorded then."""
        self.audit.discard_unwritten()
        self._settled = None

    def handle(self, record: RemediationDecision, message: InputMessage) -> Sequence[OutgoingRecord]:
        if not record.final or record.decision is not Decision.APPROVED:
            return []
        if record.request_id in self._settled_ids():
            log.info("approved outcome seen again, already handled request_id=%s", record.request_id)
            return []
        request = self._request(record.request_id)
        if request is None:
            return self._refuse(record.alert_id, record.request_id, ["no such request on " + self.requests_topic])
        verdict = may_run_outcome(request, record, self.keys, self.clock())
        if not verdict.allowed:
            return self._refuse(request.alert_id, request.request_id, list(verdict.reasons))
        plan = request.plan()
        assert plan is not None  # may_run refuses a request without a plan
        report = self._loop().run_until_complete(execute_and_recheck(
            ExecutionRequest(plan=plan, dry_run=self.dry_run, time_limit_s=self.time_limit_s,
                             approved_digest=request.plan_digest), self.executor, self.prisma))
        entries = [AuditEntry(actor=EXECUTOR_STAGE_ACTOR, action="remediation_run", alert_id=request.alert_id,
                              outcome="ok" if report.result.succeeded else "failed",
                              details={"request_id": request.request_id, "plan_digest": request.plan_digest,
                                       "approvers": list(verdict.approvers), "dry_run": report.result.dry_run}),
                   *report.audit_entries]
        self._settled_ids().add(request.request_id)  # it ran: never again, whatever happens to the ticket
        ticket, problem = None, ""
        if self.tickets is not None:
            try:
                ticket = self._loop().run_until_complete(self.tickets.follow_up(request.request_id, report.follow_up))
            except Exception as exc:  # noqa: BLE001 - the fix ran; a tracker failure is recorded, not retried here
                problem = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("ticket follow-up failed request_id=%s error=%s", request.request_id, problem)
        entries.append(AuditEntry(actor=EXECUTOR_STAGE_ACTOR, action="remediation_ticket_followed_up",
                                  alert_id=request.alert_id,
                                  outcome="failed" if problem else "resolved" if report.follow_up.resolve else "open",
                                  details={"request_id": request.request_id, "ticket": ticket, "error": problem,
                                           "comment": report.follow_up.comment}))
        log.info("remediation executed request_id=%s succeeded=%s resolve=%s", request.request_id,
                 report.result.succeeded, report.follow_up.resolve)
        return audit_records(self.audit, entries)

    def _refuse(self, alert_id: str, request_id: str, reasons: list[str]) -> list[OutgoingRecord]:
        log.warning("approved outcome refused request_id=%s reasons=%s", request_id, "; ".join(reasons))
        self._settled_ids().add(request_id)
        return audit_records(self.audit, [AuditEntry(actor_type=ActorType.SYSTEM, actor=EXECUTOR_STAGE_ACTOR,
                                                     action="remediation_run_refused", alert_id=alert_id,
                                                     outcome="refused",
                                                     details={"request_id": request_id, "reasons": reasons})])
