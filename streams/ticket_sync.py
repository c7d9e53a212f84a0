"""Bidirectional sync: what people do in the tracker flows back (``prismaflow sync jira|servicenow``).

On an interval, for every ticket Prismaflow keeps open (state from ``prisma.tickets``), the syncer
asks the tracker for its status and Prisma Cloud for the status of the ticket's alerts, then:

- a ticket closed as accepted risk / won't fix: the Prisma alerts are dismissed with a note naming
  the ticket, when the sync policy allows it (off by default); otherwise only recorded;
- a ticket resolved while Prisma Cloud still reports its alerts open: the ticket is reopened with a
  comment saying which alerts are still open;
- a ticket resolved here and there: recorded as resolved.

Each action updates ``prisma.tickets`` and is an AuditRecord. Only ids of the Alert API (``P-…`` for
configuration, network and audit-event policies, ``I-…`` for IAM/CIEM ones; see
:func:`processors.alert_ids.is_alert_api_id`) are checked against Prisma Cloud; Compute findings have
no CSPM alert to dismiss.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import Counter

from connectors.base import NotFoundError
from connectors.ports import TicketRef
from processors.records import TicketState
from processors.alert_ids import is_alert_api_id
from processors.tickets import OPEN, RESOLVED, SyncAction, SyncPolicy, TrackerStatus, decide_sync
from streams.audit import AuditWriter
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topic_reader import read_compacted
from streams.topics import TICKETS

__all__ = ["TicketSyncer", "PrismaAlerts"]

log = logging.getLogger(__name__)

SYNC_ACTIONS = Counter("prismaflow_ticket_sync_actions_total", "Bidirectional sync actions", ["tracker", "action"])


class PrismaAlerts(Protocol):
    """The two Prisma Cloud calls the syncer needs (CspmClient provides them)."""

    async def get_alert(self, alert_id: str, *, detailed: bool = True) -> dict[str, Any]: ...
    async def dismiss_alerts(self, alert_ids: list[str], note: str) -> None: ...


class TicketSyncer:
    """One pass (:meth:`sync_once`) or a loop (:meth:`run`) over the tracker's open tickets."""

    def __init__(self, tracker: Any, prisma: PrismaAlerts, kafka: KafkaSettings, serde: AvroSerde, *,
                 policy: SyncPolicy = SyncPolicy(), topic_prefix: str = "", audit: AuditWriter | None = None,
                 publish: Callable[[list[OutgoingRecord]], None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.tracker, self.prisma, self.kafka, self.serde = tracker, prisma, kafka, serde
        self.policy, self.audit, self.clock = policy, audit, clock
        self.tickets_topic = topic_prefix + TICKETS.name
        self._publish = publish or self._produce

    def _states(self) -> list[TicketState]:
        prefix = self.tracker.tracker.value + ":"
        return [self.serde.decode(value, TicketState, topic=self.tickets_topic)
                for key, value in read_compacted(self.kafka, self.tickets_topic).items() if key.startswith(prefix)]

    async def _open_in_prisma(self, alert_ids: list[str]) -> tuple[str, ...]:
        still_open = []
        for alert_id in alert_ids:
            if not is_alert_api_id(alert_id):
                continue
            try:
                alert = await self.prisma.get_alert(alert_id, detailed=False)
            except NotFoundError:
                continue
            if str(alert.get("status", "")).lower() == "open":
                still_open.append(alert_id)
        return tuple(still_open)

    async def sync_once(self) -> dict[SyncAction, int]:
        """Check every open ticket once; return how many of each action were taken."""
        done: dict[SyncAction, int] = {}
        out: list[OutgoingRecord] = []
        for state in self._states():
            if state.status != OPEN:
                continue
            ref = TicketRef(state.ticket_key, state.ticket_url, state.status)
            status: TrackerStatus = await self.tracker.status(ref)
            if not status.done:
                continue
            open_ids = await self._open_in_prisma(state.alert_ids)
            action, reason = decide_sync(state, status, open_ids, self.policy)
            if action is SyncAction.DISMISS_IN_PRISMA:
                note = f"Accepted risk in {self.tracker.tracker.value} ticket {state.ticket_key} ({state.ticket_url})"
                await self.prisma.dismiss_alerts(list(open_ids), note)
                new_status = RESOLVED
            elif action is SyncAction.REOPEN_TICKET:
                await self.tracker.reopen(ref, f"Reopened by Prismaflow: {reason}")
                new_status = OPEN
            elif action is SyncAction.MARK_RESOLVED:
                new_status = RESOLVED
            else:
                continue
            done[action] = done.get(action, 0) + 1
            SYNC_ACTIONS.labels(self.tracker.tracker.value, action.value).inc()
            log.info("ticket sync tracker=%s ticket=%s action=%s", self.tracker.tracker.value, state.ticket_key, action.value)
            new = state.model_copy(update={"status": new_status, "updated_at": self.clock()})
            out.append(OutgoingRecord(self.tickets_topic, f"{self.tracker.tracker.value}:{state.fingerprint}", new))
            if self.audit is not None:
                out.append(self.audit.record("system", f"sync.{self.tracker.tracker.value}", action.value,
                                             incident_id=state.fingerprint if state.fingerprint.startswith("inc-") else None,
                                             alert_id=state.alert_ids[0] if state.alert_ids else None, outcome="ok",
                                             details={"ticket": state.ticket_key, "reason": reason,
                                                      "alerts": list(open_ids)}))
        if out:
            self._publish(out)
        return done

    def _produce(self, records: list[OutgoingRecord]) -> None:
        producer = KafkaClients(self.kafka).producer()
        for record in records:
            assert record.value is not None and record.key is not None
            producer.produce(record.topic, key=record.key.encode(), value=self.serde.encode(record.value, topic=record.topic))
        if producer.flush(30):
            raise BrokerError("ticket sync: records not acknowledged")

    async def run(self, stop: asyncio.Event, interval_s: float = 300.0) -> None:
        while not stop.is_set():
            try:
                await self.sync_once()
            except Exception:  # noqa: BLE001 - one failed pass is retried at the next interval
                log.exception("ticket sync pass failed tracker=%s", self.tracker.tracker.value)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass
