"""The ticket sink: scored alerts (and analyses) in, one ticket per risk in a tracker, kept in step.

Generic over a :class:`TrackerAdapter` (Jira, ServiceNow). State — fingerprint to ticket key and
last synced content — lives in the compacted ``prisma.tickets`` topic (key ``<tracker>:<fingerprint>``)
and is rebuilt from it on start. A finding an open incident ticket tracks stays filed under that
ticket when a record of it comes without the incident (the incident ended around it), and the
tracker is always given the ticket's priority, its worst open alert's (:func:`processors.tickets.decide`),
not the priority of the member that happens to be processed. Before creating, the adapter looks the fingerprint up in the
tracker itself (Jira label, ServiceNow correlation_id): a crash between the tracker's create and the
state write therefore never creates a second ticket. Every ticket action is also an AuditRecord.

Tickets carry the analysis. The sink reads ``prisma.analyses`` too, and remembers the latest analysis
per alert and per incident, so a ticket created when its analysis is known has it in its body
(summary, business impact, root cause, evidence, remediation steps, approval path). The analysis
stage usually writes it a moment *after* the scored alert the ticket sink sees, so a new ticket whose
alert the stage will analyse (``expects_analysis``, the stage's own gate) is *parked*: its creation
waits until the analysis arrives, at most ``TicketRules.analysis_wait_s``; then it is created
without, and the analysis follows as a comment, as does any analysis that arrives after creation.
Later records of a parked ticket queue behind it, in order; so do the later records of its alert
(an incident its finding joins while parked: one queue), so that one alert's records, and one
ticket's, are handled in the order they came whatever the wait did.

Which tickets exist is a function of the records, not of the order the sink reads them in: the Jira
and the ServiceNow sink are separate consumers, and only the order within a partition is shared.
An incident's records span partitions when a member is a linked finding (keyed by its own asset),
so an incident never adopts a ticket its finding had before it joined: its ticket is its own
(``inc-…``), and the finding's stays the finding's. The wait is durable: while a record is
parked the worker commits its partition only up to that record (:meth:`TicketSink.held_offsets`), so
a restart delivers it again rather than losing the ticket; what is redelivered past it is handled
idempotently (a repeated analysis comment is possible, as after any redelivery).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
TICKETS_PARKED = Counter("prismaflow_tickets_parked_total",
                         "New tickets that waited for their analysis, by tracker and how the wait ended",
                         ["tracker", "outcome"])

#: Analyses remembered for tickets not created yet (per alert and per incident).
MAX_REMEMBERED_ANALYSES = 10_000


@dataclass
class _Parked:
    """New tickets waiting for their analysis, and the records queued behind them: (arrival number,
    record), in the order the sink read them."""

    deadline: float  # on the sink's monotonic clock
    records: list[tuple[int, SinkRecord[Any]]] = field(default_factory=list)

    def holds_alert(self, alert_id: str) -> bool:
        return any(record.value.alert.alert_id == alert_id for _, record in self.records)


class TicketSink:
    """A :class:`streams.sink.Sink` that keeps one ticket per risk in one tracker."""

    def __init__(self, adapter: TrackerAdapter, kafka: KafkaSettings, serde: AvroSerde, *,
                 rules: TicketRules = TicketRules(), topic_prefix: str = "",
                 audit: AuditWriter | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 rollout: RolloutPolicy | None = None,
                 expects_analysis: Callable[[ScoredAlert], bool] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.adapter = adapter
        self.rollout = rollout  # None: every risk may have a ticket (no rollout policy applies)
        self.kafka, self.serde, self.rules, self.clock = kafka, serde, rules, clock
        self.expects_analysis, self.monotonic = expects_analysis, monotonic
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
        self._parked: dict[str, _Parked] = {}  # fingerprint -> the queue it waits in (shared by several)
        self._arrivals = itertools.count()  # numbers the records that queue, in the order they were read
        self._analyses: OrderedDict[str, Analysis] = OrderedDict()  # "alert:<id>" / "incident:<id>" -> latest

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
        """Handle a batch (possibly empty: the worker calls with none while tickets are parked, so
        that a wait that ran out ends without new traffic)."""
        failures: list[DeliveryFailure] = []
        for record in records:
            try:
                if isinstance(record.value, ScoredAlert):
                    failures.extend(await self._on_scored(record.value, record))
                elif isinstance(record.value, Analysis):
                    failures.extend(await self._on_analysis(record.value))
            except TargetUnavailableError:
                raise  # the tracker is unavailable: the worker pauses and retries the batch
            except Exception as exc:  # noqa: BLE001 - a refusal for this record only: dead-letter it
                log.warning("ticket action failed sink=%s offset=%d error=%s", self.name, record.offset, exc)
                failures.append(DeliveryFailure(record, exc))
        now = self.monotonic()
        for fp in [fp for fp, parked in self._parked.items() if parked.deadline <= now]:
            if fp not in self._parked:
                continue  # released with the fingerprint it shared a queue with
            TICKETS_PARKED.labels(self.adapter.tracker.value, "timed_out").inc()
            log.info("no analysis within the wait, creating without sink=%s fingerprint=%s", self.name, fp)
            failures.extend(await self._release(fp))
        written, self._unwritten = self._unwritten, []
        return failures, written

    # -- parked tickets -----------------------------------------------------------------------
    def has_pending(self) -> bool:
        """True while a new ticket waits for its analysis (the worker then calls :meth:`deliver`
        even without new records)."""
        return bool(self._parked)

    def held_offsets(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition) the first offset not to commit yet: the oldest parked record's."""
        held: dict[tuple[str, int], int] = {}
        for parked in self._queues():
            for _, record in parked.records:
                where = (record.topic, record.partition)
                held[where] = min(held.get(where, record.offset), record.offset)
        return held

    def _queues(self) -> list[_Parked]:
        """Each queue once (several fingerprints may share one)."""
        return list({id(queue): queue for queue in self._parked.values()}.values())

    def _queue_behind(self, fp: str, scored: ScoredAlert, record: SinkRecord[Any]) -> bool:
        """Queue ``record`` behind what it must follow, if anything is parked; False when nothing is.

        A record waits behind the parked records of its ticket (``fp``), of its finding's own
        ticket, and of its alert: so the sink handles the records of one alert, and of one ticket,
        in the order they came, whether or not a ticket waited for its analysis on the way (a
        finding's ticket created only after the alert's next record was filed under its incident's
        ticket would be routed there too, and never created). Queues it must follow that are
        separate are merged in the order their records came; the merged queue ends its wait at the
        earliest of their deadlines.
        """
        queues = {id(q): q for q in (self._parked.get(fp), self._parked.get(finding_fingerprint(scored))) if q}
        queues.update((id(q), q) for q in self._queues() if q.holds_alert(scored.alert.alert_id))
        if not queues:
            return False
        ahead = list(queues.values())
        queue = ahead[0]
        if len(ahead) > 1:
            queue = _Parked(min(q.deadline for q in ahead), sorted((entry for q in ahead for entry in q.records),
                                                                   key=lambda entry: entry[0]))
            for key in [key for key, q in self._parked.items() if id(q) in queues]:
                self._parked[key] = queue
        queue.records.append((next(self._arrivals), record))
        self._parked[fp] = queue  # later records of this ticket queue here too
        return True

    def _expects_analysis(self, scored: ScoredAlert) -> bool:
        """Whether the analysis stage will write an analysis this new ticket should wait for.

        A member re-emitted because its incident formed (``incident_update``) is not analysed again,
        but the record that formed the incident is, with the incident's id: the incident's new ticket
        waits for that analysis when the stage would analyse the member itself.
        """
        if self.rules.analysis_wait_s <= 0 or self.expects_analysis is None:
            return False
        if scored.incident_update and scored.incident_id:
            scored = scored.model_copy(update={"incident_update": False})
        return self.expects_analysis(scored)

    def _remember(self, analysis: Analysis) -> None:
        for key in (f"alert:{analysis.alert_id}", f"incident:{analysis.incident_id}" if analysis.incident_id else ""):
            if key:
                self._analyses[key] = analysis
                self._analyses.move_to_end(key)
        while len(self._analyses) > MAX_REMEMBERED_ANALYSES:
            self._analyses.popitem(last=False)

    def _analysis_for(self, fingerprint: str, scored: ScoredAlert) -> Analysis | None:
        """The latest analysis known for the ticket's incident, else for the alert itself, else for
        one of the incident's members."""
        keys = [f"incident:{fingerprint}"] if is_incident_fingerprint(fingerprint) else []
        keys += [f"alert:{scored.alert.alert_id}", *(f"alert:{member}" for member in scored.incident_members)]
        return next((self._analyses[key] for key in keys if key in self._analyses), None)

    def _parked_for(self, analysis: Analysis) -> str | None:
        """The parked fingerprint ``analysis`` completes, if any."""
        if analysis.incident_id and analysis.incident_id in self._parked:
            return analysis.incident_id
        for fp, parked in self._parked.items():
            if parked.holds_alert(analysis.alert_id):
                return fp
        return None

    async def _release(self, fp: str) -> list[DeliveryFailure]:
        """Create the parked ticket (with the analysis, if known by now), then its queued records.

        A record is taken off the queue only once handled, so a tracker outage here (raised: the
        worker retries the batch) leaves the rest parked and their offsets uncommitted.
        """
        failures: list[DeliveryFailure] = []
        parked = self._parked.get(fp)
        if parked is None:
            return failures  # released already, under the fingerprint it shares a queue with
        while parked.records:
            _, record = parked.records[0]
            try:
                failures.extend(await self._on_scored(record.value, record, waited=True))
            except TargetUnavailableError:
                raise
            except Exception as exc:  # noqa: BLE001 - a refusal for this record only: dead-letter it
                log.warning("ticket action failed sink=%s offset=%d error=%s", self.name, record.offset, exc)
                failures.append(DeliveryFailure(record, exc))
            parked.records.pop(0)
        for key in [key for key, queue in self._parked.items() if queue is parked]:
            del self._parked[key]
        return failures

    # -- scored alerts ------------------------------------------------------------------------
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
        return fp, self.state.get(fp)

    async def _on_scored(self, scored: ScoredAlert, record: SinkRecord[Any] | None = None, *,
                         waited: bool = False) -> list[DeliveryFailure]:
        """Keep the ticket of ``scored`` in step; the failures of parked records this released."""
        released: list[DeliveryFailure] = []
        fp, state = self._route(scored)
        if not waited and record is not None and self._queue_behind(fp, scored, record):
            return released
        allowed = self.rollout is None or mode_for(scored.alert, self.rollout) is not RolloutMode.MONITOR
        decision = decide(state, scored, self.rules, self.clock(), fingerprint_=fp, tickets_allowed=allowed)
        analysis = self._analysis_for(fp, scored) if decision.action is TicketAction.CREATE else None
        if (decision.action is TicketAction.CREATE and analysis is None and not waited and record is not None
                and self._expects_analysis(scored)):
            self._parked[fp] = _Parked(self.monotonic() + self.rules.analysis_wait_s,
                                       [(next(self._arrivals), record)])
            log.debug("new ticket waits for its analysis sink=%s fingerprint=%s", self.name, fp)
            return released
        if decision.action is TicketAction.NONE:
            return released
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
                ref = await self.adapter.create(fp, view, analysis)
                if analysis is not None:
                    self._analysed.add(analysis.input_hash)  # in the body: not again as a comment
                    TICKET_ACTIONS.labels(self.adapter.tracker.value, "created_with_analysis").inc()
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
        created_with = analysis if decision.action is TicketAction.CREATE and analysis is not None \
            and analysis.input_hash in self._analysed else None
        self._record(new, status, scored, decision, created_with)
        return released

    def _record(self, new: TicketState, status: str, scored: ScoredAlert, decision: TicketDecision,
                with_analysis: Analysis | None = None) -> None:
        self._track(self.state.get(new.fingerprint), new)
        self.state[new.fingerprint] = new
        self._unwritten.append(OutgoingRecord(self.tickets_topic, self._key(new.fingerprint), new))
        if self.audit is not None and decision.action is not TicketAction.NONE:
            details = {"ticket": new.ticket_key, "fingerprint": new.fingerprint, "reason": decision.reason,
                       "status": status}
            if with_analysis is not None:
                details["analysis_input_hash"] = with_analysis.input_hash
            self._unwritten.append(self.audit.record(
                "system", self.name, f"ticket_{decision.action.value}", alert_id=scored.alert.alert_id,
                incident_id=scored.incident_id, outcome="ok", details=details))

    # -- analyses -----------------------------------------------------------------------------
    async def _on_analysis(self, analysis: Analysis) -> list[DeliveryFailure]:
        self._remember(analysis)
        parked = self._parked_for(analysis)
        if parked is None:
            await self._comment(analysis)
            return []
        TICKETS_PARKED.labels(self.adapter.tracker.value, "analysis_arrived").inc()
        failures = await self._release(parked)
        if analysis.input_hash not in self._analysed:  # it released the ticket but is not in its body
            await self._comment(analysis)
        return failures

    async def _comment(self, analysis: Analysis) -> None:
        """An analysis for a ticket created without it: added as a comment (once per analysis)."""
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
