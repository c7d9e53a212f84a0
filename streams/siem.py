"""The SIEM stage: scored alerts to ``prisma.siem.events``; and the wiring of the SIEM sinks.

Three :class:`streams.sink.Sink` s, each run by a :class:`streams.sink.SinkWorker` (at-least-once;
offsets committed only after the far side took the batch)::

    prisma.alerts.scored ─┐
    prisma.analyses ──────┴─ SiemTopicSink ─► prisma.siem.events ─┬─ SiemForwardSink(SplunkHecForwarder) ─► HEC
       (optional)             (extra outputs)     key: alert id    └─ SiemForwardSink(SyslogCefForwarder) ─► syslog

- :class:`SiemTopicSink` turns each scored alert into a :class:`~processors.records.SiemEvent`
  (:func:`processors.siem.siem_event`) and writes it as an extra output, keyed by alert id, so it
  is on the topic before the input offset moves. With analyses on, it remembers the latest
  analysis per alert for the summary of later events and emits one follow-up event when an
  analysis arrives for an alert it has seen (both in memory, bounded; lost on restart).
- Every outside SIEM follows the one sink pattern: the Kafka side is
  :class:`streams.siem_forward.SiemForwardSink` (tier filter, audit, the ports' signals), the
  adapter sits with its system (:class:`connectors.splunk.sink.SplunkHecForwarder`,
  :class:`connectors.syslog.sink.SyslogCefForwarder`); see :mod:`streams.siem_forward` for how
  failures are sorted.

``prisma.siem.events``: key the alert id (UTF-8), so all events of one alert share a partition
and keep their order (librdkafka's CRC32 ``consistent_random`` partitioner, not Java's murmur2);
value an Avro ``io.prismaflow.SiemEvent`` in single-object encoding (``C3 01`` + 8-byte schema
fingerprint) or, with a schema registry, the Confluent wire format (``00`` + 4-byte schema id).
The full contract (every field, a Python consumer) is in ``docs/siem-events.md``.
Wiring: :func:`streams.compose.build_sink` (``prismaflow sink siem|splunk|syslog``) builds them
from the ``siem``, ``splunk`` and ``syslog`` sections of the settings tree.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from connectors.ports import OutgoingRecord
from processors.models import RiskTier, ScoredAlert
from processors.records import Analysis, SiemEvent, TicketState
from processors.score import tier_at_least
from processors.siem import analysis_siem_event, siem_event
from processors.tickets import fingerprint
from streams.sink import DeliveryFailure, Sink, SinkRecord
from streams.topics import ANALYSES, AUDIT, SCORED_ALERTS, SIEM_EVENTS, TICKETS

__all__ = ["SIEM_SINKS", "SiemTopicSink", "tier_at_least"]

log = logging.getLogger(__name__)

#: The SIEM sinks ``prismaflow sink`` knows.
SIEM_SINKS = ("siem", "splunk", "syslog")


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
