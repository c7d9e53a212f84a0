"""SIEM sinks: scored alerts to ``prisma.siem.events``, and from there to Splunk HEC and syslog/CEF.

Three :class:`streams.sink.Sink` implementations, each run by a :class:`streams.sink.SinkWorker`
(at-least-once; offsets committed only after the far side took the batch)::

    prisma.alerts.scored ─┐
    prisma.analyses ──────┴─ SiemTopicSink ─► prisma.siem.events ─┬─ SplunkHecSink ─► HEC
       (optional)             (extra outputs)     key: alert id    └─ SyslogCefSink ─► syslog/CEF

- :class:`SiemTopicSink` turns each scored alert into a :class:`~processors.records.SiemEvent`
  (:func:`processors.siem.siem_event`) and writes it as an extra output, keyed by alert id, so it
  is on the topic before the input offset moves. With analyses on, it remembers the latest
  analysis per alert for the summary of later events and emits one follow-up event when an
  analysis arrives for an alert it has seen (both in memory, bounded; lost on restart).
- :class:`SplunkHecSink` maps events with :func:`connectors.splunk.siem_event_to_hec` and sends
  them with :class:`connectors.splunk.HecClient` (indexer acknowledgement when ``use_ack``).
- :class:`SyslogCefSink` formats each event as a CEF line in an RFC 5424 message and sends the
  batch with :class:`connectors.syslog.SyslogClient` over TCP/TLS.

Failures, as the worker sorts them: ``TransientError``/``RetriesExhaustedError`` (HEC 503 or busy
beyond the client's retries, an ack timeout, a syslog receiver that is down) pause the sink and
the batch is retried until it goes through; an event HEC refuses for good (bad index, too large)
or that cannot be formatted is dead-lettered with the reason; a configuration error that no event
can fix (token rejected, TLS certificate refused) is raised and stops the worker, offsets
uncommitted. Redelivery after a crash resends events with the same ``event_id`` (stable, see
:mod:`processors.siem`): SIEM-side dedupe on it removes the copies.

``prisma.siem.events``: key the alert id (UTF-8), so all events of one alert share a partition
and keep their order (librdkafka's CRC32 ``consistent_random`` partitioner, not Java's murmur2);
value an Avro ``io.prismaflow.SiemEvent`` in single-object encoding (``C3 01`` + 8-byte schema
fingerprint) or, with a schema registry, the Confluent wire format (``00`` + 4-byte schema id).
The full contract (every field, a Python consumer) is in ``docs/siem-events.md``.
Wiring: :func:`streams.compose.build_sink` (``prismaflow sink siem|splunk|syslog``) builds them from
the ``siem``, ``splunk`` and ``syslog`` sections of the settings tree.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from connectors.splunk.client import SendResult
from connectors.splunk.events import HecEvent, siem_event_to_hec
from connectors.splunk.settings import SplunkHecSettings
from connectors.syslog.cef import siem_event_to_cef, syslog_severity
from connectors.syslog.client import SyslogMessage, SyslogSettings
from processors.models import RiskTier, ScoredAlert
from processors.records import Analysis, SiemEvent, TicketState
from processors.siem import analysis_siem_event, siem_event
from processors.tickets import fingerprint
from streams.audit import AuditWriter
from streams.publish import OutgoingRecord
from streams.sink import DeliveryFailure, Sink, SinkRecord
from streams.topics import ANALYSES, SCORED_ALERTS, SIEM_EVENTS, TICKETS

__all__ = [
    "SIEM_SINKS",
    "SiemTopicSink",
    "SplunkHecSink",
    "SyslogCefSink",
    "tier_at_least",
]

log = logging.getLogger(__name__)

_TIER_ORDER = {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2, RiskTier.CRITICAL: 3}
#: The SIEM sinks :func:`streams.compose.build_sink` builds.
SIEM_SINKS = ("siem", "splunk", "syslog")


def tier_at_least(tier: RiskTier, floor: RiskTier) -> bool:
    """True when ``tier`` is ``floor`` or above (low < medium < high < critical)."""
    return _TIER_ORDER[tier] >= _TIER_ORDER[floor]


# -- scored alerts → prisma.siem.events ---------------------------------------------------------


class SiemTopicSink:
    """Writes one SiemEvent per scored alert to ``prisma.siem.events`` (key: alert id).

    Nothing leaves Kafka: the events are the worker's extra outputs, acknowledged by the broker
    before the input offsets are committed. A record that cannot become an event (a model
    violation) is dead-lettered.
    """

    def __init__(self, *, topic_prefix: str = "", include_analyses: bool = False, max_cached: int = 10_000,
                 redact_secrets: bool = True) -> None:
        self.name = "siem"
        self.redact_secrets = redact_secrets
        self.scored_topic = topic_prefix + SCORED_ALERTS.name
        self.analyses_topic = topic_prefix + ANALYSES.name
        self.siem_topic = topic_prefix + SIEM_EVENTS.name
        self.include_analyses = include_analyses
        self.tickets_topic = topic_prefix + TICKETS.name
        self.topics: Sequence[str] = (
            (self.scored_topic, self.analyses_topic, self.tickets_topic) if include_analyses
            else (self.scored_topic, self.tickets_topic))
        self.models: dict[str, type[BaseModel]] = {self.scored_topic: ScoredAlert, self.tickets_topic: TicketState}
        if include_analyses:
            self.models[self.analyses_topic] = Analysis
        self.max_cached = max_cached
        # Bounded, in-memory: after a restart the first event of an alert has no analysis summary.
        self._analyses: OrderedDict[str, Analysis] = OrderedDict()
        self._scored: OrderedDict[str, ScoredAlert] = OrderedDict()
        # Fingerprint -> ticket key, learnt from prisma.tickets: events name the ticket once it exists.
        self._tickets: OrderedDict[str, str] = OrderedDict()

    async def start(self) -> None:
        log.info("siem stage started sink=%s output=%s analyses=%s", self.name, self.siem_topic,
                 self.include_analyses)

    async def close(self) -> None:
        return None

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self.max_cached:
            cache.popitem(last=False)

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        """The SiemEvents for ``records`` as extra outputs; failures for records that cannot map."""
        failures: list[DeliveryFailure] = []
        out: list[OutgoingRecord] = []
        for record in records:
            try:
                event = self._event(record.value)
            except ValueError as exc:  # pydantic's ValidationError included
                log.warning("siem event not built topic=%s partition=%d offset=%d error=%s",
                            record.topic, record.partition, record.offset, type(exc).__name__)
                failures.append(DeliveryFailure(record, exc))
                continue
            if event is not None:
                out.append(OutgoingRecord(self.siem_topic, event.alert_id, event))
        return failures, out

    def _event(self, value: BaseModel) -> SiemEvent | None:
        if isinstance(value, TicketState):
            self._remember(self._tickets, value.fingerprint, value.ticket_key)
            return None
        if isinstance(value, ScoredAlert):
            alert_id = value.alert.alert_id
            if self.include_analyses:
                self._remember(self._scored, alert_id, value)
            return siem_event(value, self._analyses.get(alert_id), ticket_key=self._tickets.get(fingerprint(value), ""),
                              redact=self.redact_secrets)
        if isinstance(value, Analysis):
            self._remember(self._analyses, value.alert_id, value)
            scored = self._scored.get(value.alert_id)
            return analysis_siem_event(scored, value, redact=self.redact_secrets) if scored is not None else None
        return None


# -- prisma.siem.events → an outside SIEM -------------------------------------------------------


class _SiemEventSink:
    """What the Splunk and syslog sinks share: input topic, tier filter, audit of each batch."""

    destination: ClassVar[str] = ""

    def __init__(self, *, topic_prefix: str, min_tier: RiskTier, audit: AuditWriter | None) -> None:
        self.name = self.destination
        self.events_topic = topic_prefix + SIEM_EVENTS.name
        self.topics: Sequence[str] = (self.events_topic,)
        self.models: dict[str, type[BaseModel]] = {self.events_topic: SiemEvent}
        self.min_tier = min_tier
        self.audit = audit

    async def _start_audit(self) -> None:
        if self.audit is not None:
            await asyncio.to_thread(self.audit.start)

    def _wanted(self, records: Sequence[SinkRecord[Any]]) -> list[SinkRecord[Any]]:
        return [r for r in records if isinstance(r.value, SiemEvent) and tier_at_least(r.value.tier, self.min_tier)]

    def _audited(self, sent: int, failed: int, skipped: int) -> list[OutgoingRecord]:
        if self.audit is None or sent + failed == 0:
            return []
        return [self.audit.record("system", self.name, "siem_forwarded", outcome="ok" if not failed else "partial",
                                  details={"destination": self.destination, "sent": sent, "dead_lettered": failed,
                                           "skipped_below_tier": skipped})]


class HecSender(Protocol):
    """What the Splunk sink needs from :class:`connectors.splunk.HecClient`."""

    async def send(self, events: Sequence[HecEvent]) -> SendResult: ...
    async def aclose(self) -> None: ...


class SplunkHecSink(_SiemEventSink):
    """Forwards ``prisma.siem.events`` to a Splunk HTTP Event Collector.

    ``client`` defaults to a :class:`connectors.splunk.HecClient` on ``settings``; tests pass one
    over ``httpx.ASGITransport``. Events HEC rejects for good are returned as failures (DLQ) with
    HEC's reply; the rest of the batch is delivered.
    """

    destination = "splunk"

    def __init__(self, settings: SplunkHecSettings, *, client: HecSender | None = None, topic_prefix: str = "",
                 min_tier: RiskTier = RiskTier.LOW, audit: AuditWriter | None = None) -> None:
        super().__init__(topic_prefix=topic_prefix, min_tier=min_tier, audit=audit)
        from connectors.splunk.client import HecClient

        self.settings = settings
        self.client: HecSender = client or HecClient(settings)

    async def start(self) -> None:
        await self._start_audit()
        log.info("splunk sink started input=%s use_ack=%s min_tier=%s", self.events_topic, self.settings.use_ack,
                 self.min_tier.value)

    async def close(self) -> None:
        await self.client.aclose()

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        """Send the batch; raise on an outage (the worker pauses), return the rejected events."""
        wanted = self._wanted(records)
        if not wanted:
            return [], []
        result = await self.client.send([siem_event_to_hec(r.value, self.settings) for r in wanted])
        failures = [DeliveryFailure(wanted[rejected.position], rejected.error) for rejected in result.rejected]
        for failure in failures:
            log.warning("splunk rejected event offset=%d partition=%d error=%s", failure.record.offset,
                        failure.record.partition, failure.error)
        return failures, self._audited(result.sent, len(failures), len(records) - len(wanted))


class SyslogSender(Protocol):
    """What the syslog sink needs from :class:`connectors.syslog.SyslogClient`."""

    async def send_many(self, messages: Sequence[SyslogMessage]) -> None: ...
    async def aclose(self) -> None: ...


class SyslogCefSink(_SiemEventSink):
    """Forwards ``prisma.siem.events`` as CEF lines in RFC 5424 messages over TCP/TLS.

    ``console_base_url`` (optional) becomes CEF ``request`` = ``<base>/<alert id>``;
    ``device_external_id`` names this Prismaflow instance. The client reconnects on a lost
    connection and raises ``TransientError`` when the receiver stays away: the worker pauses.
    """

    destination = "syslog"

    def __init__(self, settings: SyslogSettings, *, client: SyslogSender | None = None, topic_prefix: str = "",
                 min_tier: RiskTier = RiskTier.LOW, console_base_url: str | None = None,
                 device_external_id: str | None = None, audit: AuditWriter | None = None) -> None:
        super().__init__(topic_prefix=topic_prefix, min_tier=min_tier, audit=audit)
        from connectors.syslog.client import SyslogClient

        self.settings = settings
        self.client: SyslogSender = client or SyslogClient(settings)
        self.console_base_url = console_base_url.rstrip("/") if console_base_url else None
        self.device_external_id = device_external_id

    async def start(self) -> None:
        await self._start_audit()
        log.info("syslog sink started input=%s receiver=%s:%d tls=%s min_tier=%s", self.events_topic,
                 self.settings.host, self.settings.port, self.settings.tls, self.min_tier.value)

    async def close(self) -> None:
        await self.client.aclose()

    def message(self, event: SiemEvent) -> SyslogMessage:
        """The syslog message for one event: CEF in MSG, tier as severity, the event's time."""
        console = f"{self.console_base_url}/{event.alert_id}" if self.console_base_url else None
        line = siem_event_to_cef(event, console_url=console, device_external_id=self.device_external_id)
        return SyslogMessage(msg=line, severity=syslog_severity(event), msgid="prismaflow.alert",
                             timestamp=event.event_time)

    async def deliver(self, records: Sequence[SinkRecord[Any]]) -> tuple[list[DeliveryFailure], list[OutgoingRecord]]:
        """Send the batch in one write; raise ``TransientError`` when the receiver is down."""
        failures: list[DeliveryFailure] = []
        messages: list[SyslogMessage] = []
        wanted = self._wanted(records)
        for record in wanted:
            try:
                messages.append(self.message(record.value))
            except ValueError as exc:
                failures.append(DeliveryFailure(record, exc))
        await self.client.send_many(messages)
        return failures, self._audited(len(messages), len(failures), len(records) - len(wanted))
