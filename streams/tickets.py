"""The ticket sink: scored alerts (and analyses) in, one ticket per risk in a tracker, kept in step.

Generic over a :class:`TrackerAdapter` (Jira, ServiceNow). State — fingerprint to ticket key and
last synced content — lives in the compacted ``prisma.tickets`` topic (key ``<tracker>:<fingerprint>``)
and is rebuilt from it on start. A finding an open incident ticket tracks stays filed under that
ticket when a record of it comes without the incident (the incident ended around it), and the
tracker is always given the ticket's priority, its worst open alert's (:func:`processors.tickets.decide`),
not the priority of the member that happens to be processed. Before creating, the adapter looks the fingerprint up in the
tracker itself (Jira label, ServiceNow correlation_id): a crash between the tracker's create and the
state write therefore never creates a second ticket. Every ticket action is also an AuditRecord.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from pydantic import BaseModel

from connectors.ports import OutgoingRecord, TargetUnavailableError, TicketRef, TrackerAdapter
from processors.models import ScoredAlert
from processors.records import Analysis, RolloutMode, TicketState
from processors.remediation.modes import RolloutPolicy, mode_for
from processors.tickets import (
    OPEN,
    RESOLVED,
    TicketAction,
    TicketDecision,
    TicketRules,
    decide,
    finding_fingerprint,
    fingerprint as fingerprint_of,
    is_incident_fingerprint,
    sync_hash,
)
from streams.audit import AuditWriter
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.sink import DeliveryFailure, SinkRecord
from streams.topic_reader import read_compacted
from streams.topics import ANALYSES, SCORED_ALERTS, TICKETS

__all__ = ["TicketRef", "TrackerAdapter", "TicketSink"]

log = logging.getLogger(__name__)

TICKET_ACTIONS = Counter("prismaflow_tickets_total", "Ticket actions by tracker and action", ["tracker", "action"])


class TicketSink:
    """A :class:`streams.sink.Sink` that keeps one ticket per risk in one tracker."""

    def __init__(self, adapter: TrackerAdapter, kafka: KafkaSettings, serde: AvroSerde, *,
                 rules: TicketRules = TicketRules(), topic_prefix: str = "",
                 audit: AuditWriter | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 rollout: RolloutPolicy | None = None) -> None:
        self.adapter = adapter
        self.rollout = rollout  # None: every risk may have a ticket (no rollout policy applies)
        self.kafka, self.serde, self.rules, self.clock = kafka, serde, rules, clock
        self.name = f"tickets.{adapter.tracker.value}"
        self.scored_topic = topic_prefix + SCORED_ALERTS.name
        self.analyses_topic = topic_prefix + ANALYSES.name
        self.tickets_topic = topic_prefix + TICKETS.name
        self.topics: Sequence[str] = (self.scored_topic, self.analyses_topic)
        self.models: dict[str, type[BaseModel]] = {self.scored_topic: ScoredAlert, self.analyses_topic: Analysis}
        self.state: dict[str, TicketState] = {}
        self.audit = audit
        self._unwritten: list[OutgoingRecord] = []
        self._analysed: set[str] = set()  # analyses already commented (a restart may comment again)
        self._tracking: dict[str, str] = {}  # alert id -> the open incident ticket's fingerprint tracking it

    def _key(self, fingerprint: str) -> str:
        return f"{self.adapter.tracker.value}:{fingerprint}"

    async def start(self) -> None:
        """Rebuild the fingerprint → ticket map from the compacted ``prisma.tickets``."""
        prefix = self.adapter.tracker.value + ":"
        for key, value in read_compacted(self.kafka, self.tickets_topic).items():
            if key.startswith(prefix):
                state = self.serde.decode(value, TicketState, topic=self.tickets_topic)
                self.state[key[len(prefix):]] = state
                self._track(None, state)
        log.info("ticket state rebuilt sink=%s tickets=%d", self.name, len(self.state))

    async def close(self) -> None:
        await self.adapter.aclose()

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        failures: list[DeliveryFailure] = []
        for record in records:
            try:
                if isinstance(record.value, ScoredAlert):
                    await self._on_scored(record.value)
                elif isinstance(record.value, Analysis):
                    await self._on_analysis(record.value)
            except TargetUnavailableError:
                raise  # the tracker is unavailable: the worker pauses and retries the batch
            except Exception as exc:  # noqa: BLE001 - a refusal for this record only: dead-letter it
                log.warning("ticket action failed sink=%s offset=%d error=%s", self.name, record.offset, exc)
                failures.append(DeliveryFailure(record, exc))
        written, self._unwritten = self._unwritten, []
        return failures, written

    # -- scored alerts ------------------------------------------------------------------------
    def _current(self, fingerprint: str, scored: ScoredAlert) -> TicketState | None:
        state = self.state.get(fingerprint)
        if state is None and fingerprint != finding_fingerprint(scored):
            # The finding had a ticket before it joined an incident: the incident adopts it.
            state = self.state.get(finding_fingerprint(scored))
            if state is not None:
                state = state.model_copy(update={"fingerprint": fingerprint})
        return state

    def _track(self, before: TicketState | None, after: TicketState) -> None:
        """Keep the index of which open incident ticket tracks which alert."""
        if before is not None:
            for alert_id in before.alert_ids:
                if self._tracking.get(alert_id) == before.fingerprint:
                    del self._tracking[alert_id]
        if is_incident_fingerprint(after.fingerprint) and after.status == OPEN:
            for alert_id in after.alert_ids:
                self._tracking[alert_id] = after.fingerprint

    def _route(self, scored: ScoredAlert) -> tuple[str, TicketState | None]:
        """The ticket ``scored`` belongs to: its fingerprint's, or the open incident ticket still
        tracking it when it comes without an incident (the incident ended around it)."""
        fp = fingerprint_of(scored)
        if fp == finding_fingerprint(scored):
            tracking = self._tracking.get(scored.alert.alert_id)
            held = self.state.get(tracking) if tracking else None
            if tracking and held is not None and held.status == OPEN:
                return tracking, held
        return fp, self._current(fp, scored)

    async def _on_scored(self, scored: ScoredAlert) -> None:
        fp, state = self._route(scored)
        allowed = self.rollout is None or mode_for(scored.alert, self.rollout) is not RolloutMode.MONITOR
        decision = decide(state, scored, self.rules, self.clock(), fingerprint_=fp, tickets_allowed=allowed)
        if decision.action is TicketAction.NONE:
            if state is not None and fp not in self.state:
                self._record(state, state.status, scored, decision)  # remember the adoption
            return
        # The tracker shows the ticket's priority: its worst open alert's, not this member's.
        view = scored.model_copy(update={"tier": decision.tier, "score": decision.score})
        ref = TicketRef(state.ticket_key, state.ticket_url, state.status) if state else None
        if decision.action is TicketAction.CREATE:
            found = await self.adapter.find(fp)
            if found is not None and (state is None or found.key != state.ticket_key):
                log.info("ticket found in tracker, adopting sink=%s fingerprint=%s key=%s", self.name, fp, found.key)
                await self.adapter.update(found, view, f"Prismaflow: {decision.reason}")
                ref = found
            else:
                ref = await self.adapter.create(fp, view, None)
            status = OPEN
        elif decision.action is TicketAction.UPDATE:
            assert ref is not None
            await self.adapter.update(ref, view, _note(decision, view))
            status = OPEN
        elif decision.action is TicketAction.RESOLVE:
            assert ref is not None
            await self.adapter.resolve(ref, f"Prisma Cloud reports the risk gone: {decision.reason}")
            status = RESOLVED
        else:  # REOPEN
            assert ref is not None
            ref = await self.adapter.reopen(ref, f"Reopened by Prismaflow: {decision.reason}")
            status = OPEN
        TICKET_ACTIONS.labels(self.adapter.tracker.value, decision.action.value).inc()
        new = TicketState(fingerprint=fp, tracker=self.adapter.tracker, ticket_key=ref.key, ticket_url=ref.url,
                          status=status, last_synced_hash=sync_hash(scored, decision.alert_ids, decision.tier,
                                                                    decision.score),
                          alert_ids=list(decision.alert_ids), updated_at=self.clock(),
                          member_risk=dict(decision.member_risk))
        self._record(new, status, scored, decision)

    def _record(self, new: TicketState, status: str, scored: ScoredAlert, decision: TicketDecision) -> None:
        self._track(self.state.get(new.fingerprint), new)
        self.state[new.fingerprint] = new
        self._unwritten.append(OutgoingRecord(self.tickets_topic, self._key(new.fingerprint), new))
        if self.audit is not None and decision.action is not TicketAction.NONE:
            self._unwritten.append(self.audit.record(
                "system", self.name, f"ticket_{decision.action.value}", alert_id=scored.alert.alert_id,
                incident_id=scored.incident_id, outcome="ok",
                details={"ticket": new.ticket_key, "fingerprint": new.fingerprint, "reason": decision.reason,
                         "status": status}))

    # -- analyses -----------------------------------------------------------------------------
    async def _on_analysis(self, analysis: Analysis) -> None:
        state = self.state.get(analysis.incident_id) if analysis.incident_id else None
        if state is None:
            state = next((s for s in self.state.values() if analysis.alert_id in s.alert_ids), None)
        if state is None or state.status != OPEN or analysis.input_hash in self._analysed:
            return
        await self.adapter.add_analysis(TicketRef(state.ticket_key, state.ticket_url, state.status), analysis)
        self._analysed.add(analysis.input_hash)
        TICKET_ACTIONS.labels(self.adapter.tracker.value, "analysis_comment").inc()
        if self.audit is not None:
            self._unwritten.append(self.audit.record(
                "system", self.name, "ticket_analysis_added", alert_id=analysis.alert_id,
                incident_id=analysis.incident_id, prompt_version=analysis.prompt_version or None,
                model=analysis.model or None, input_hash=analysis.input_hash, outcome="ok",
                details={"ticket": state.ticket_key}))


def _note(decision: TicketDecision, scored: ScoredAlert) -> str:
    lines = [f"Prismaflow update: {decision.reason}.",
             f"Risk score {scored.score} ({scored.tier.value}); tracked alerts: {', '.join(decision.alert_ids)}."]
    top = sorted(scored.factors, key=lambda f: -f.contribution)[:3]
    if top:
        lines.append("Main factors: " + "; ".join(f"{f.name} +{f.contribution:.0f} ({f.reason})" for f in top))
    return "\n".join(lines)
