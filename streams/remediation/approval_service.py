"""The approval service, on faust-streaming: pending remediation requests, their approvals and SLA.

Topics and the contract with the other stages::

    prisma.remediations            RemediationRequest, key request_id   (planner -> here)
    prisma.remediations.decisions  RemediationDecision, key request_id
        final=False: one approver's signed vote (the web API below, and every other approval channel)
        final=True:  this service's outcome - APPROVED (with the approvals), REJECTED or EXPIRED;
                     the executor consumes these, and runs a request only when
                     processors.remediation.approval.may_run_outcome(request, outcome, keys, now) allows it.
    <app id>-sla-ticks             internal: the timer's clock ticks, keyed like the requests

State: a faust Table ``pending`` (request_id -> :class:`PendingRequest` JSON), backed by its changelog
topic ``<app id>-pending-changelog`` and recovered from it on start. Every change to a request happens
in an agent (faust tables change only inside stream iteration, in the partition of the event), by the
pure state machine :mod:`processors.remediation.approval`:

- the requests agent opens a request (an allowlisted auto fix is APPROVED at once);
- the decisions agent folds each vote in (votes that do not verify, are for another plan digest,
  came after the deadline or repeat an approver count for nothing);
- a timer sends a tick per pending request every ``timer_interval_s``; the ticks agent applies the
  SLA at the tick's time: escalation once (an audit record naming the channel, a log line and the
  ``on_escalation`` hook, which ``prismaflow approvals`` wires to the chat escalation channel:
  :mod:`streams.remediation.escalation`), then expiry. A hook that fails is logged and tried again
  on each later tick while the request is pending (the table remembers ``escalation_announced``).

Outcomes are published before the table is updated: after a crash the event is processed again and the
outcome may be published twice (at least once); the executor keys its work by request_id.

Web API (the approval API every channel calls; ``PRISMAFLOW_REMEDIATION_SERVICE_PORT``):
``GET /remediations/pending``, ``GET /remediations/{request_id}``, ``GET /remediations/history``
(finished requests, newest first; query parameters ``status``, ``alert_id``,
``since``, ``until`` (ISO dates) and ``limit``, as :class:`processors.remediation.history.HistoryQuery`),
``POST /remediations/{request_id}/decisions`` with ``{"approver", "decision": "approved"|"rejected",
"reason", "plan_digest"}``; every route but the health checks needs ``Authorization: Bearer
<PRISMAFLOW_REMEDIATION_API_TOKEN>`` (a pending plan names resources and weaknesses). The service
signs the vote with its key and publishes it on the decisions topic; the decisions agent then counts it
(202). ``GET /healthz`` answers while the web server runs; ``GET /readyz`` once the table is recovered.

One worker process serves all partitions (approvals are a trickle, throughput does not matter); the
web API answers from the partitions this worker holds.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import cramjam  # aiokafka's zstd codec: the project's topics are zstd-compressed
import faust
from faust.tables.manager import TableManager
from faust.web import Request, Response, View

from processors.records import Decision, RemediationDecision, RemediationRequest
from processors.remediation.approval import (
    PendingRequest,
    RequestStatus,
    Transition,
    apply_decision,
    escalation_owed,
    open_request,
    tick,
)
from processors.remediation.history import HistoryQuery, finished_at
from processors.remediation.signing import SigningKey, sign_decision
from streams.audit import AuditWriter
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, REMEDIATION_DECISIONS, REMEDIATIONS, TopicSpec

__all__ = ["ApprovalService", "librdkafka_partition", "pending_view"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 24 * 3600 * 1000


def _require_zstd() -> None:
    """aiokafka decodes zstd batches through cramjam; fail at start, not on the first batch."""
    if bytes(cramjam.zstd.decompress(cramjam.zstd.compress(b"ok"))) != b"ok":
        raise RuntimeError("cramjam's zstd codec does not round-trip")


def librdkafka_partition(key: bytes, partitions: int) -> int:
    """The partition librdkafka's default partitioner (``consistent_random``: CRC-32 of the key) picks.

    The pipeline's producers are librdkafka's; faust's (aiokafka) hashes with murmur2. A faust table
    changes in the partition of the event being processed, so every record about one request - the
    request, its votes, its outcome, its SLA ticks - must land in the same partition number, whoever
    writes it: the service sends with this partition explicitly.
    """
    return zlib.crc32(key) % partitions


def pending_view(state: PendingRequest) -> dict[str, Any]:
    """What the web API shows of a request: the plan, its digest, who approved, what is missing."""
    request = state.request
    return {
        "request_id": request.request_id, "alert_id": request.alert_id, "status": state.status.value,
        "environment": request.environment.value, "mode": request.mode.value, "summary": request.summary,
        "policy_family": request.policy_family, "target_resource": request.target_resource,
        "change_risk": request.change_risk.value, "touches_iam": request.touches_iam,
        "required_approvals": state.needed, "approvals": [v.approver for v in state.approvals],
        "rejected_by": state.rejection.approver if state.rejection else None, "escalated": state.escalated,
        "plan_digest": request.plan_digest, "plan": request.plan_json,
        "requested_at": request.requested_at.isoformat(),
        "expires_at": request.expires_at.isoformat() if request.expires_at else None,
        "decided_at": None if state.status is RequestStatus.PENDING else finished_at(state).isoformat(),
    }


class ApprovalService:
    """The faust app with its table, agents, timer and web views (see the module docstring)."""

    def __init__(self, *, app_id: str, kafka: KafkaSettings, serde: AvroSerde, keys: dict[str, SigningKey],
                 signing_key_id: str, api_token: str, topic_prefix: str = "", datadir: Path,
                 web_host: str = "127.0.0.1", web_port: int = 6066, timer_interval_s: float = 30.0,
                 audit: AuditWriter | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_escalation: Callable[[PendingRequest, datetime], Awaitable[None]] | None = None) -> None:
        _require_zstd()
        if not api_token:
            raise ValueError("the approval API needs a token (PRISMAFLOW_REMEDIATION_API_TOKEN)")
        self.serde, self.keys, self.clock, self.audit = serde, keys, clock, audit
        self.on_escalation = on_escalation  # where an overdue request is announced besides the ledger and log
        self.signing_key = keys[signing_key_id]
        self._api_token = api_token
        self._lock = asyncio.Lock()
        self._startup_records: list[OutgoingRecord] = []
        datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
        brokers = [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")]
        self.app = faust.App(
            app_id, broker=brokers, store="memory://", datadir=str(datadir), web_enabled=True,
            web_host=web_host, web_port=web_port, web_bind=web_host, consumer_auto_offset_reset="earliest",
            topic_partitions=REMEDIATIONS.partitions, topic_replication_factor=kafka.topic_replication_factor,
            producer_acks=-1, key_serializer="raw", value_serializer="raw", table_standby_replicas=0,
        )
        raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
                               "value_serializer": "raw"}
        self.requests_name = topic_prefix + REMEDIATIONS.name
        self.decisions_name = topic_prefix + REMEDIATION_DECISIONS.name
        self.audit_name = topic_prefix + AUDIT.name
        self._partitions = {self.requests_name: REMEDIATIONS.partitions,
                            self.decisions_name: REMEDIATION_DECISIONS.partitions, self.audit_name: AUDIT.partitions}
        self.requests_topic = self.app.topic(self.requests_name, **raw)
        self.decisions_topic = self.app.topic(self.decisions_name, **raw)
        self.audit_topic = self.app.topic(self.audit_name, **raw)
        self.ticks_topic = self.app.topic(f"{app_id}-sla-ticks", internal=True, partitions=REMEDIATIONS.partitions,
                                          **raw)
        # Keys and values are bytes: the app-wide raw serializers apply (a Table takes no serializer options).
        self.pending = self.app.Table("pending", default=None, partitions=REMEDIATIONS.partitions, key_type=bytes,
                                      value_type=bytes)
        #: The service's own topics, for ``prismaflow approvals`` to create before faust starts (see run.py).
        self.internal_topics = (
            TopicSpec(f"{app_id}-sla-ticks", key="request id", value_schema="bytes", doc="SLA clock ticks",
                      partitions=REMEDIATIONS.partitions, retention_ms=_DAY_MS),
            TopicSpec(self.pending.changelog_topic.get_topic_name(), key="request id", value_schema="bytes",
                      doc="the pending table's changelog", partitions=REMEDIATIONS.partitions,
                      cleanup_policy="compact", retention_ms=-1))
        self.app.agent(self.requests_topic, name="remediation-requests")(self._requests_agent)
        self.app.agent(self.decisions_topic, name="remediation-decisions")(self._decisions_agent)
        self.app.agent(self.ticks_topic, name="remediation-sla-ticks")(self._ticks_agent)
        self.app.timer(timer_interval_s, name="remediation-sla-timer")(self._send_ticks)
        self.app.task(self._publish_startup_records)
        self._add_views()

    # -- state ------------------------------------------------------------------------------------
    def state_of(self, request_id: str) -> PendingRequest | None:
        held = self.pending.get(request_id.encode())
        return PendingRequest.model_validate_json(held) if held else None

    def states(self) -> list[PendingRequest]:
        return [PendingRequest.model_validate_json(value) for value in self.pending.values() if value]

    def queue_at_start(self, record: OutgoingRecord) -> None:
        """Publish ``record`` (e.g. the rollout policy change audit) once the app has started."""
        self._startup_records.append(record)

    async def _publish_startup_records(self) -> None:
        for record in self._startup_records:
            await self._publish(record)
        self._startup_records.clear()

    async def _publish(self, record: OutgoingRecord) -> None:
        assert record.value is not None
        topic = self.app.topic(record.topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                               value_serializer="raw")
        key = (record.key or "").encode()
        await topic.send(key=key, value=self.serde.encode(record.value, topic=record.topic),
                         partition=librdkafka_partition(key, self._partitions[record.topic]))

    async def _apply(self, key: bytes, step: Transition) -> None:
        """Publish what ``step`` produced, then store its state (in the current event's partition)."""
        request = step.state.request
        if step.outcome is not None:
            await self._publish(OutgoingRecord(self.decisions_name, request.request_id, step.outcome))
            await self._audit(f"remediation_{step.outcome.decision.value}", request,
                              {"approvers": [a.approver for a in step.outcome.approvals], "reason": step.outcome.reason,
                               "plan_digest": request.plan_digest})
        if step.escalate:
            log.warning("remediation request overdue, escalated request_id=%s channel=%s",
                        request.request_id, request.escalation_channel)
            await self._audit("remediation_escalated", request, {"channel": request.escalation_channel})
        self.pending[key] = step.state.model_dump_json().encode()

    async def _announce_escalation(self, key: bytes, state: PendingRequest, now: datetime) -> None:
        """Tell the escalation channel (``on_escalation``); on success remember it, on failure log and
        leave it owed, so the next tick tries again. Never raises: the SLA goes on either way."""
        if self.on_escalation is None:
            return
        try:
            await self.on_escalation(state, now)
        except Exception as exc:  # noqa: BLE001 - chat down must not stop the SLA; retried on the next tick
            log.warning("remediation escalation not delivered, retried on the next tick request_id=%s channel=%s "
                        "error=%s", state.request.request_id, state.request.escalation_channel, type(exc).__name__)
            return
        self.pending[key] = state.model_copy(update={"escalation_announced": True}).model_dump_json().encode()

    async def _audit(self, action: str, request: RemediationRequest, details: dict[str, Any]) -> None:
        if self.audit is not None:
            await self._publish(self.audit.record("system", "approval-service", action, alert_id=request.alert_id,
                                                  incident_id=request.incident_id, outcome="ok",
                                                  details={"request_id": request.request_id, **details}))

    # -- agents -----------------------------------------------------------------------------------
    async def _requests_agent(self, stream: Any) -> None:
        async for event in stream.events():
            request = self.serde.decode(event.value, RemediationRequest, topic=self.requests_name)
            async with self._lock:
                if self.pending.get(event.key) is not None:
                    continue  # redelivered: the request is already held
                opened = open_request(request)
                await self._audit("remediation_requested", request,
                                  {"required_approvals": opened.state.needed, "plan_digest": request.plan_digest})
                await self._apply(event.key, opened)
                log.info("remediation request opened request_id=%s status=%s needs=%d", request.request_id,
                         opened.state.status.value, opened.state.needed)

    async def _decisions_agent(self, stream: Any) -> None:
        async for event in stream.events():
            vote = self.serde.decode(event.value, RemediationDecision, topic=self.decisions_name)
            if vote.final:
                continue  # our own outcome on the shared decision log
            async with self._lock:
                state = self.state_of(vote.request_id)
                if state is None:
                    log.warning("vote for an unknown request request_id=%s", vote.request_id)
                    continue
                step = apply_decision(state, vote, self.keys)
                log.info("vote request_id=%s approver=%s %s", vote.request_id, vote.approver, step.note)
                if step.state != state:
                    await self._apply(event.key, step)
                elif step.note.startswith("ignored"):
                    await self._audit("remediation_vote_ignored", state.request,
                                      {"approver": vote.approver, "why": step.note})

    async def _ticks_agent(self, stream: Any) -> None:
        async for event in stream.events():
            now = _EPOCH + timedelta(milliseconds=int(event.value.decode()))
            async with self._lock:
                state = self.state_of(event.key.decode())
                if state is None:
                    continue
                step = tick(state, now)
                if step.state != state:
                    await self._apply(event.key, step)
                if escalation_owed(step.state):
                    await self._announce_escalation(event.key, step.state, now)

    async def _send_ticks(self) -> None:
        now_ms = str((self.clock() - _EPOCH) // timedelta(milliseconds=1)).encode()
        for state in self.states():
            if state.status is RequestStatus.PENDING:
                key = state.request.request_id.encode()
                await self.ticks_topic.send(key=key, value=now_ms,
                                            partition=librdkafka_partition(key, REMEDIATIONS.partitions))

    # -- web API ----------------------------------------------------------------------------------
    def _add_views(self) -> None:
        service = self

        class Pending(View):
            async def get(self, request: Request) -> Response:
                if not service._authorised(request):
                    return self.error(401, "missing or wrong bearer token")
                listed = [pending_view(s) for s in service.states() if s.status is RequestStatus.PENDING]
                return self.json({"pending": sorted(listed, key=lambda v: v["requested_at"])})

        class History(View):
            async def get(self, request: Request) -> Response:
                return service.history_answer(self, request)

        class Health(View):
            async def get(self, request: Request) -> Response:
                return self.json({"ok": True})

        class Ready(View):
            async def get(self, request: Request) -> Response:
                ready = service.ready()
                return self.json({"ready": ready}, status=200 if ready else 503)

        class One(View):
            async def get(self, request: Request, request_id: str) -> Response:
                if not service._authorised(request):
                    return self.error(401, "missing or wrong bearer token")
                state = service.state_of(request_id)
                return self.json(pending_view(state)) if state else self.error(404, "no such request")

        class Decide(View):
            async def post(self, request: Request, request_id: str) -> Response:
                return await service.post_decision(self, request, request_id)

        self.app.page("/remediations/pending")(Pending)
        self.app.page("/remediations/history")(History)  # before {request_id}, which would match it too
        self.app.page("/healthz")(Health)
        self.app.page("/readyz")(Ready)
        self.app.page("/remediations/{request_id}")(One)
        self.app.page("/remediations/{request_id}/decisions")(Decide)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        return hmac.compare_digest(header.encode(), f"Bearer {self._api_token}".encode())

    def ready(self) -> bool:
        """Ready to answer: the table is recovered from its changelog and no rebalance is under way."""
        tables = cast(TableManager, self.app.tables)  # the app's table manager (typed by its interface)
        return bool(tables.recovery.completed.is_set() and not self.app.rebalancing)

    def history_answer(self, view: View, request: Request) -> Response:
        """Finished requests (approved, rejected, expired) that pass the query's filters, newest first."""
        if not self._authorised(request):
            return view.error(401, "missing or wrong bearer token")
        try:
            query = HistoryQuery.from_params(request.query)
        except ValueError as exc:
            return view.error(400, str(exc))
        done = [s for s in self.states() if s.status is not RequestStatus.PENDING
                and query.admits(s.status.value, s.request.alert_id, s.request.requested_at)]
        done.sort(key=finished_at, reverse=True)
        return view.json({"history": [pending_view(s) for s in done[:query.limit]]})

    async def post_decision(self, view: View, request: Request, request_id: str) -> Response:
        """Sign an approver's vote and put it on the decision log (the decisions agent counts it)."""
        if not self._authorised(request):
            return view.error(401, "missing or wrong bearer token")
        try:
            body = await request.json()
        except ValueError:
            return view.error(400, "body must be JSON")
        approver = body.get("approver") if isinstance(body, dict) else None
        choice = body.get("decision") if isinstance(body, dict) else None
        if not isinstance(approver, str) or not approver.strip() or choice not in ("approved", "rejected"):
            return view.error(400, "need approver and decision (approved or rejected)")
        state = self.state_of(request_id)
        if state is None:
            return view.error(404, "no such request")
        if state.status is not RequestStatus.PENDING:
            return view.error(409, f"request is {state.status.value}")
        seen = body.get("plan_digest")
        if seen is not None and seen != state.request.plan_digest:
            return view.error(409, "the plan changed since it was shown: plan_digest differs")
        reason = body.get("reason", "")
        vote = sign_decision(RemediationDecision(
            request_id=request_id, alert_id=state.request.alert_id, asset_id=state.request.asset_id,
            decision=Decision(choice), approver=approver.strip(), reason=reason if isinstance(reason, str) else "",
            decided_at=self.clock(), plan_digest=state.request.plan_digest), self.signing_key)
        await self._publish(OutgoingRecord(self.decisions_name, request_id, vote))
        return view.json({"accepted": True, "request_id": request_id, "approver": vote.approver,
                          "decision": choice, "plan_digest": vote.plan_digest}, status=202)
