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
Wiring: :func:`build_sink` (``prismaflow sink siem|splunk|syslog``) reads
:class:`SiemStageSettings`, :class:`SplunkSinkSettings` and :class:`SyslogSinkSettings`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.ports import OutgoingRecord
from connectors.splunk.settings import SplunkHecSettings
from connectors.splunk.sink import SplunkHecForwarder
from connectors.syslog.client import SyslogSettings
from connectors.syslog.sink import SyslogCefForwarder
from processors.models import RiskTier, ScoredAlert
from processors.records import Analysis, SiemEvent, TicketState
from processors.score import tier_at_least
from processors.siem import analysis_siem_event, siem_event
from processors.tickets import fingerprint
from streams.audit import AuditWriter
from streams.run import WorkerSettings
from streams.serde import AvroSerde
from streams.settings import KafkaSettings, _Settings
from streams.siem_forward import SiemForwardSink
from streams.sink import DeliveryFailure, Sink, SinkRecord
from streams.topics import ANALYSES, AUDIT, SCORED_ALERTS, SIEM_EVENTS, TICKETS

__all__ = [
    "SIEM_SINKS",
    "SiemStageSettings",
    "SiemTopicSink",
    "SplunkSinkSettings",
    "SyslogSinkSettings",
    "build_sink",
    "tier_at_least",
]

log = logging.getLogger(__name__)

TierName = Literal["low", "medium", "high", "critical"]
#: The names :func:`build_sink` knows.
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


# -- settings and wiring ------------------------------------------------------------------------


class SiemStageSettings(_Settings):
    """The SIEM stage: scored alerts to ``prisma.siem.events`` (``prismaflow sink siem``)."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_SIEM_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "SIEM events stage"

    include_analyses: bool = Field(
        default=False, description="Also read prisma.analyses: analysis summaries and one follow-up event per analysis")
    max_cached: int = Field(default=10_000, ge=1, description="Alerts and analyses remembered for that (in memory)")
    redact_secrets: bool = Field(
        default=True, description="Replace secrets found in alert text with [REDACTED] (off: a SIEM cleared for raw text)")


class SplunkSinkSettings(_Settings):
    """The Splunk HEC sink (``prismaflow sink splunk``)."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_SPLUNK_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Splunk HEC sink"

    url: str = Field(default="http://127.0.0.1:8288", description="HEC base URL, https://<host>:8088")
    token: SecretStr = Field(default=SecretStr("11111111-2222-3333-4444-555555555555"),
                             description="HEC token (secret); the default is the simulator's")
    index: str | None = Field(default=None, description="Index; unset means the token's default index")
    sourcetype: str = Field(default="prismaflow:alert", description="Sourcetype of the events")
    source: str = Field(default="prismaflow", description="Source of the events")
    host: str = Field(default="prismaflow", description="Host field of the events")
    use_ack: bool = Field(default=False, description="Wait for indexer acknowledgement before committing offsets")
    gzip: bool = Field(default=True, description="Compress request bodies")
    max_batch_bytes: int = Field(default=1_000_000, ge=1024, description="Uncompressed request size cap (bytes)")
    max_batch_events: int = Field(default=500, ge=1, description="Events per request at most")
    ack_timeout_s: float = Field(default=60.0, gt=0, description="How long to wait for acknowledgements")
    min_tier: TierName = Field(default="low", description="Forward only events of this risk tier or above")
    audit: bool = Field(default=False, description="Write one audit record per forwarded batch")

    def client_settings(self) -> SplunkHecSettings:
        return SplunkHecSettings(url=self.url, token=self.token, index=self.index, sourcetype=self.sourcetype,
                                 source=self.source, host=self.host, use_ack=self.use_ack, gzip=self.gzip,
                                 max_batch_bytes=self.max_batch_bytes, max_batch_events=self.max_batch_events,
                                 ack_timeout_s=self.ack_timeout_s)


class SyslogSinkSettings(_Settings):
    """The syslog/CEF sink (``prismaflow sink syslog``)."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_SYSLOG_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Syslog/CEF sink"

    host: str = Field(default="127.0.0.1", description="Syslog receiver host")
    port: int = Field(default=6514, ge=1, le=65535, description="Receiver port; 6514 is syslog over TLS")
    tls: bool = Field(default=True, description="Use TLS (certificate verified)")
    ca_file: Path | None = Field(default=None, description="CA bundle for the receiver; unset means the system store")
    verify: bool = Field(default=True, description="Verify the receiver's certificate (off: loopback tests only)")
    client_cert_file: Path | None = Field(default=None, description="Client certificate for mutual TLS")
    client_key_file: Path | None = Field(default=None, description="Client key for mutual TLS")
    server_name: str | None = Field(default=None, description="TLS name to check; default the host")
    facility: int = Field(default=16, ge=0, le=23, description="RFC 5424 facility code (16 = local0)")
    app_name: str = Field(default="prismaflow", description="RFC 5424 APP-NAME")
    hostname: str | None = Field(default=None, description="RFC 5424 HOSTNAME; default this machine's name")
    min_tier: TierName = Field(default="medium", description="Forward only events of this risk tier or above")
    console_base_url: str | None = Field(default=None, description="Base URL for CEF request=<base>/<alert id>")
    device_external_id: str | None = Field(default=None, description="CEF deviceExternalId: this instance or tenant")
    audit: bool = Field(default=False, description="Write one audit record per forwarded batch")

    def client_settings(self) -> SyslogSettings:
        return SyslogSettings(host=self.host, port=self.port, tls=self.tls, ca_file=self.ca_file, verify=self.verify,
                              client_cert_file=self.client_cert_file, client_key_file=self.client_key_file,
                              server_name=self.server_name, facility=self.facility, app_name=self.app_name,
                              hostname=self.hostname)


def _audit(enabled: bool, name: str, kafka: KafkaSettings, serde: AvroSerde, topic_prefix: str) -> AuditWriter | None:
    if not enabled:
        return None
    chain = f"sink.{name}/{WorkerSettings().instance_id}"
    return AuditWriter(chain, kafka, serde, topic=topic_prefix + AUDIT.name)


def build_sink(name: str, kafka: KafkaSettings, serde: AvroSerde, topic_prefix: str = "") -> Sink:
    """The sink ``prismaflow sink <name>`` runs, for ``name`` in :data:`SIEM_SINKS`, configured
    from the environment. Raises ``ValueError`` for another name, pydantic's ``ValidationError``
    for bad settings."""
    if name == "siem":
        stage = SiemStageSettings()
        return SiemTopicSink(topic_prefix=topic_prefix, include_analyses=stage.include_analyses,
                             max_cached=stage.max_cached, redact_secrets=stage.redact_secrets)
    if name == "splunk":
        splunk = SplunkSinkSettings()
        return SiemForwardSink(SplunkHecForwarder(splunk.client_settings()), topic_prefix=topic_prefix,
                               min_tier=RiskTier(splunk.min_tier), audit=_audit(splunk.audit, name, kafka, serde,
                                                                                topic_prefix))
    if name == "syslog":
        syslog = SyslogSinkSettings()
        forwarder = SyslogCefForwarder(syslog.client_settings(), console_base_url=syslog.console_base_url,
                                       device_external_id=syslog.device_external_id)
        return SiemForwardSink(forwarder, topic_prefix=topic_prefix, min_tier=RiskTier(syslog.min_tier),
                               audit=_audit(syslog.audit, name, kafka, serde, topic_prefix))
    raise ValueError(f"unknown SIEM sink {name!r}; expected one of {', '.join(SIEM_SINKS)}")
