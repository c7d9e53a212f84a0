"""The chat sink: one Slack or Teams notification per top-tier risk, with its ticket and approval page.

:class:`ChatSink` consumes ``prisma.alerts.scored`` and ``prisma.tickets``. An open scored alert at
the notification tier (``critical`` by default) whose fingerprint
(:func:`processors.tickets.fingerprint`: the incident when correlated, else the finding) has not
been notified yet is posted once, as a Slack Block Kit message or a Teams Adaptive Card, with
buttons to its ticket (when ``prisma.tickets`` already knows one) and to the approval page
(``<approval_base_url>/<alert id>``). Ticket state is rebuilt from the compacted topic on start
and kept current from the records the sink consumes.

Once per fingerprint: the notified fingerprints are remembered in memory and, with an
:class:`~streams.audit.AuditWriter`, as ``chat_notified`` audit records that :meth:`ChatSink.start`
reads back, so a restart does not notify again. Without an audit writer a restart forgets them.
Limits: a crash after a post and before the offset commit posts that notification again
(at-least-once; webhooks have no idempotency key); a fingerprint that resolves and comes back is
not notified again; a ticket created after the notification is not linked (the ticket sink
usually runs behind the scoring stage, so the first notification often has only the approval link).

The sink follows the one sink pattern: this is the Kafka side; the outside system's adapter is a
:class:`~connectors.ports.Notifier` (:class:`connectors.slack.sink.ChatWebhookNotifier` for Slack
and Teams), which builds and posts the body and translates its errors into the ports' signals.

Failures, by those signals: back-pressure (429/5xx beyond the client's retries) pauses the sink
(the batch is retried, fingerprints already posted are not posted twice); a notification the
webhook refuses (400) is dead-lettered; a webhook that is gone or revoked (401/403/404/410) stops
the worker: every further message would fail too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from prometheus_client import Counter
from pydantic import BaseModel

from connectors.ports import (
    Notification,
    Notifier,
    OutgoingRecord,
    RecordRejectedError,
    TargetUnavailableError,
    TargetUnusableError,
)
from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.records import TicketState, Tracker
from processors.score import tier_at_least
from processors.tickets import finding_fingerprint, fingerprint
from streams.audit import AuditWriter, read_chains
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.sink import DeliveryFailure, Sink, SinkRecord
from streams.topic_reader import read_compacted
from streams.topics import AUDIT, SCORED_ALERTS, TICKETS

__all__ = ["NOTIFIED_ACTION", "ChatSink"]

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter("prismaflow_chat_notifications_total", "Chat notifications by kind and outcome",
                        ["kind", "outcome"])
#: The audit action that records a notification (and lets a restarted sink skip it).
NOTIFIED_ACTION = "chat_notified"


class ChatSink:
    """A :class:`streams.sink.Sink` that notifies a chat channel once per top-tier fingerprint."""

    def __init__(self, notifier: Notifier, kafka: KafkaSettings, serde: AvroSerde, *, topic_prefix: str = "",
                 notify_tier: RiskTier = RiskTier.CRITICAL, approval_base_url: str | None = None,
                 tracker: Tracker | None = None, audit: AuditWriter | None = None) -> None:
        self.notifier, self.kafka, self.serde = notifier, kafka, serde
        self.name = f"chat.{notifier.kind}"
        self.scored_topic = topic_prefix + SCORED_ALERTS.name
        self.tickets_topic = topic_prefix + TICKETS.name
        self.audit_topic = topic_prefix + AUDIT.name
        self.topics: Sequence[str] = (self.scored_topic, self.tickets_topic)
        self.models: dict[str, type[BaseModel]] = {self.scored_topic: ScoredAlert, self.tickets_topic: TicketState}
        self.notify_tier = notify_tier
        self.approval_base_url = approval_base_url.rstrip("/") if approval_base_url else None
        self.tracker = tracker
        self.audit = audit
        self.tickets: dict[str, TicketState] = {}
        self.notified: set[str] = set()
        self._unwritten: list[OutgoingRecord] = []  # audit records of posts whose batch is not done yet

    async def start(self) -> None:
        """Rebuild ticket links from ``prisma.tickets`` and, with audit on, the notified set."""
        for value in (await asyncio.to_thread(read_compacted, self.kafka, self.tickets_topic)).values():
            self._learn(self.serde.decode(value, TicketState, topic=self.tickets_topic))
        if self.audit is not None:
            chains = await asyncio.to_thread(read_chains, self.kafka, self.serde, self.audit_topic)
            for (_, chain), records in chains.items():
                if chain != self.audit.chain_name:
                    continue
                for record in records:
                    if record.action == NOTIFIED_ACTION:
                        fp = json.loads(record.details_json).get("fingerprint")
                        if isinstance(fp, str):
                            self.notified.add(fp)
            await asyncio.to_thread(self.audit.start)
        log.info("chat sink started sink=%s tickets=%d notified=%d tier=%s", self.name, len(self.tickets),
                 len(self.notified), self.notify_tier.value)

    async def close(self) -> None:
        await self.notifier.aclose()

    def _learn(self, state: TicketState) -> None:
        if self.tracker is not None and state.tracker is not self.tracker:
            return
        known = self.tickets.get(state.fingerprint)
        if known is None or state.updated_at >= known.updated_at:
            self.tickets[state.fingerprint] = state

    def _ticket(self, fp: str, scored: ScoredAlert) -> TicketState | None:
        # The incident's ticket; until this sink has learnt it, the ticket the finding had before it
        # joined (the ticket sink keeps both: an incident never adopts a finding's ticket).
        return self.tickets.get(fp) or self.tickets.get(finding_fingerprint(scored))

    def wants(self, scored: ScoredAlert) -> bool:
        """True for an open alert at or above the notification tier."""
        return scored.alert.status is AlertStatus.OPEN and tier_at_least(scored.tier, self.notify_tier)

    def notification(self, scored: ScoredAlert, ticket: TicketState | None) -> Notification:
        """What to notify for ``scored``: the risk, its ticket and its approval page."""
        approval = f"{self.approval_base_url}/{quote(scored.alert.alert_id, safe='')}" if self.approval_base_url else None
        return Notification(scored, ticket_url=(ticket.ticket_url or None) if ticket else None,
                            ticket_key=ticket.ticket_key if ticket else None, approval_url=approval)

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        """Learn ticket states, post the notifications due; see the module docstring for failures."""
        failures: list[DeliveryFailure] = []
        for record in records:
            if isinstance(record.value, TicketState):
                self._learn(record.value)
            elif isinstance(record.value, ScoredAlert):
                failure = await self._maybe_notify(record)
                if failure is not None:
                    failures.append(failure)
        written, self._unwritten = self._unwritten, []
        return failures, written

    async def _maybe_notify(self, record: SinkRecord[Any]) -> DeliveryFailure | None:
        scored: ScoredAlert = record.value
        fp = fingerprint(scored)
        if not self.wants(scored) or fp in self.notified:
            return None
        ticket = self._ticket(fp, scored)
        kind = self.notifier.kind
        try:
            await self.notifier.notify(self.notification(scored, ticket))
        except TargetUnavailableError:
            NOTIFICATIONS.labels(kind, "paused").inc()
            raise  # the chat service is unavailable or throttling: the worker pauses
        except TargetUnusableError as exc:
            log.error("chat webhook unusable, stopping sink=%s error=%s", self.name, exc)
            raise  # revoked, deleted or archived: no message can get through, fix the settings
        except RecordRejectedError as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            NOTIFICATIONS.labels(kind, "dead_letter").inc()
            log.warning("chat notification refused sink=%s offset=%d error=%s", self.name, record.offset, cause)
            return DeliveryFailure(record, cause)
        self.notified.add(fp)
        NOTIFICATIONS.labels(kind, "posted").inc()
        log.info("chat notified sink=%s fingerprint=%s tier=%s ticket=%s", self.name, fp, scored.tier.value,
                 ticket.ticket_key if ticket else "")
        if self.audit is not None:
            self._unwritten.append(self.audit.record(
                "system", self.name, NOTIFIED_ACTION, alert_id=scored.alert.alert_id,
                incident_id=scored.incident_id, outcome="ok",
                details={"fingerprint": fp, "tier": scored.tier.value, "score": scored.score,
                         "ticket": ticket.ticket_key if ticket else ""}))
        return None
