"""The Kafka side of every outside SIEM: ``prisma.siem.events`` to an :class:`~connectors.ports.EventForwarder`.

One :class:`streams.sink.Sink`, run by a :class:`streams.sink.SinkWorker` (at-least-once; offsets
committed only after the far side took the batch), whatever the SIEM::

    prisma.siem.events ─► SiemForwardSink ─┬─ connectors.splunk.sink.SplunkHecForwarder ─► HEC
       key: alert id     (tier filter,      └─ connectors.syslog.sink.SyslogCefForwarder ─► syslog/CEF
                          audit per batch)

The sink filters by tier, hands the events to the adapter, and sorts what comes back by the ports'
signals only: events the adapter refused for good are dead-lettered with their cause and the batch
goes on; :class:`~connectors.ports.TargetUnavailableError` (HEC 503, a receiver that is down)
reaches the worker, which pauses and delivers the batch again; anything else, such as
:class:`~connectors.ports.TargetUnusableError` (token rejected, TLS certificate refused), stops the
worker with offsets uncommitted. Redelivery after a crash resends events with the same
``event_id`` (stable, see :mod:`processors.siem`): SIEM-side dedupe on it removes the copies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from connectors.ports import EventForwarder, OutgoingRecord
from processors.models import RiskTier
from processors.records import SiemEvent
from processors.score import tier_at_least
from streams.audit import AuditWriter
from streams.sink import DeliveryFailure, SinkRecord
from streams.topics import SIEM_EVENTS

__all__ = ["SiemForwardSink"]

log = logging.getLogger(__name__)


class SiemForwardSink:
    """Forwards ``prisma.siem.events`` at or above ``min_tier`` through one SIEM adapter.

    ``name`` (the dead letters' ``sink.<name>`` stage, the metrics' label) is the adapter's.
    With ``audit``, one ``siem_forwarded`` audit record per batch says what was sent.
    """

    def __init__(self, forwarder: EventForwarder, *, topic_prefix: str = "", min_tier: RiskTier = RiskTier.LOW,
                 audit: AuditWriter | None = None) -> None:
        self.forwarder = forwarder
        self.name = forwarder.name
        self.events_topic = topic_prefix + SIEM_EVENTS.name
        self.topics: Sequence[str] = (self.events_topic,)
        self.models: dict[str, type[BaseModel]] = {self.events_topic: SiemEvent}
        self.min_tier = min_tier
        self.audit = audit

    async def start(self) -> None:
        if self.audit is not None:
            await asyncio.to_thread(self.audit.start)
        log.info("siem forward sink started sink=%s input=%s min_tier=%s", self.name, self.events_topic,
                 self.min_tier.value)

    async def close(self) -> None:
        await self.forwarder.aclose()

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        """Forward the batch; the adapter's back-pressure reaches the worker, refusals are dead-lettered."""
        wanted = [r for r in records if isinstance(r.value, SiemEvent) and tier_at_least(r.value.tier, self.min_tier)]
        if not wanted:
            return [], []
        result = await self.forwarder.forward([r.value for r in wanted])
        failures = []
        for position, refusal in sorted(result.rejected.items()):
            cause = refusal.__cause__ if refusal.__cause__ is not None else refusal
            failures.append(DeliveryFailure(wanted[position], cause))
            log.warning("siem event refused sink=%s partition=%d offset=%d error=%s", self.name,
                        wanted[position].partition, wanted[position].offset, cause)
        return failures, self._audited(result.sent, len(failures), len(records) - len(wanted))

    def _audited(self, sent: int, failed: int, skipped: int) -> list[OutgoingRecord]:
        if self.audit is None or sent + failed == 0:
            return []
        return [self.audit.record("system", self.name, "siem_forwarded", outcome="ok" if not failed else "partial",
                                  details={"destination": self.name, "sent": sent, "dead_lettered": failed,
                                           "skipped_below_tier": skipped})]
