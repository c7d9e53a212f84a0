"""Drive every output a scored alert reaches through its real code path, against the simulators,
and keep what each far side received.

Used by the acceptance tests for secrets (nothing planted in an alert may come out) and for
prompt injection (nothing planted may steer). No Kafka here: each stage's sink object is fed
:class:`~streams.sink.SinkRecord` values directly, exactly as its worker would after decoding, so
the same ``deliver`` code runs; the broker paths of these sinks have their own broker tests.

* analysis: :class:`streams.analysis.AnalysisSink` over the real :class:`AnalysisService` with the LLM
  client on the :class:`LlmSimulator` (which keeps every request: the prompts) or offline;
* tickets: :class:`streams.tickets.TicketSink` with the Jira (Cloud and Data Center) and
  ServiceNow trackers on their simulators (which keep issues, comments, records, work notes);
* chat: :class:`streams.chat.ChatSink` on the Slack/Teams webhook simulator (keeps every body);
* SIEM: :class:`streams.siem.SiemTopicSink` (the events for ``prisma.siem.events``), then
  :class:`streams.siem_forward.SiemForwardSink` with the Splunk adapter on the HEC simulator, and
  the CEF formatter of the syslog adapter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import httpx2
from pydantic import BaseModel, SecretStr

from connectors.base import RetryPolicy
from connectors.jira.client import JiraClient
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator, SimClock, SimConfig
from connectors.jira.sink import JiraTicketTracker
from connectors.llm.client import LlmClient
from connectors.llm.settings import LlmSettings
from connectors.llm.simulator import FaultKind, LlmSimulator, SimulatorTransport
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.settings import BasicAuth as SnBasicAuth
from connectors.servicenow.settings import ServiceNowSettings
from connectors.servicenow.simulator import ServiceNowSimulator
from connectors.servicenow.simulator import SimConfig as SnSimConfig
from connectors.servicenow.sink import ServiceNowTicketTracker
from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.sink import ChatWebhookNotifier
from connectors.slack.simulator import ChatWebhookSimulator
from connectors.splunk.client import HecClient
from connectors.splunk.sink import SplunkHecForwarder
from connectors.splunk.settings import SplunkHecSettings
from connectors.splunk.simulator import HecSimulator
from connectors.splunk.simulator import SimConfig as HecSimConfig
from connectors.syslog.cef import siem_event_to_cef
from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.records import Analysis, SiemEvent
from streams.analysis import AnalysisService, AnalysisSettings
from streams.analysis import AnalysisSink
from streams.chat import ChatSink
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.siem import SiemTopicSink
from streams.siem_forward import SiemForwardSink
from streams.sink import SinkRecord
from streams.tickets import TicketSink, TrackerAdapter

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SITE = "https://prismaflow-sim.atlassian.net"
SN = "https://prismaflow-sim.service-now.com"
CHAT = "http://chat.sim"
HEC = "https://hec.sim:8088"
HEC_TOKEN = "11111111-2222-3333-4444-555555555555"
# The sinks below never reach Kafka (no start(), no worker): these only satisfy constructors.
_KAFKA = KafkaSettings(bootstrap_servers="127.0.0.1:9")
_SERDE = AvroSerde()

Tracker = Literal["jira-cloud", "jira-datacenter", "servicenow"]
TRACKERS: tuple[Tracker, ...] = ("jira-cloud", "jira-datacenter", "servicenow")


def records(values: list[Any], topic: str = "t") -> list[SinkRecord[Any]]:
    """Decoded records as a worker hands them to a sink."""
    return [SinkRecord(topic, 0, i, None, v, b"") for i, v in enumerate(values)]


async def _no_wait(_: float) -> None:
    return None


@dataclass
class Analysed:
    analyses: list[Analysis]
    prompts: list[dict[str, Any]]


async def analyse(scored: list[ScoredAlert], *, llm: bool, fault: FaultKind | None = None) -> Analysed:
    """Each alert through the analysis stage: the LLM path on the simulator, or the offline analyser."""
    sim = LlmSimulator()
    client = None
    settings = AnalysisSettings()
    if llm:
        conf = LlmSettings(base_url="http://llm.sim/v1", model="prismaflow-sim-1", api_key=SecretStr("sim-key"),
                           timeout_s=5.0, max_retries=0)
        client = LlmClient(conf, http_client=httpx2.AsyncClient(transport=SimulatorTransport(app=sim)))
        # The LLM writes every alert of the batch: the gate opens at the first alert's tier, any score.
        settings = AnalysisSettings(llm=conf, llm_min_tier=scored[0].tier if scored else AnalysisSettings().llm_min_tier,
                                    llm_min_score=0)
        if fault is not None:
            sim.add_fault(fault, count=len(scored))
    sink = AnalysisSink(AnalysisService(settings, llm_client=client))
    try:
        _, outputs = await sink.deliver(records(scored))
    finally:
        if client is not None:
            await client.aclose()
    return Analysed([o.value for o in outputs if isinstance(o.value, Analysis)], list(sim.requests))


def _tracker(kind: Tracker) -> tuple[TrackerAdapter, Any]:
    retry = RetryPolicy(max_attempts=2, base_delay_s=0, max_delay_s=0)
    if kind == "servicenow":
        sn_sim = ServiceNowSimulator(SnSimConfig(instance_url=SN))
        sn_settings = ServiceNowSettings(instance_url=SN, auth=SnBasicAuth(username="prismaflow",
                                                                            password=SecretStr("sim-password")),
                                         retry=retry)
        sn_client = ServiceNowClient(sn_settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sn_sim)),
                                     sleep=_no_wait)
        return ServiceNowTicketTracker(sn_settings, sn_client), sn_sim
    flavour: Literal["cloud", "datacenter"] = "cloud" if kind == "jira-cloud" else "datacenter"
    clock = SimClock(base=lambda: T0.timestamp())
    jira_sim = JiraSimulator(config=SimConfig(base_url=SITE, flavour=flavour), clock=clock)
    jira_settings = JiraSettings(base_url=SITE, flavour=flavour, project_key="SEC", retry=retry,
                                 auth=BasicAuth(email="bot@example.com", api_token=SecretStr("sim-api-token")))
    jira_client = JiraClient(jira_settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_sim)),
                             sleep=clock.sleep)
    return JiraTicketTracker(jira_settings, jira_client), jira_sim


def tracker_for(kind: Tracker) -> tuple[TrackerAdapter, Any]:
    """A tracker adapter of ``kind`` on its simulator, and the simulator (which keeps every text)."""
    return _tracker(kind)


@dataclass
class Ticketed:
    """What the tracker holds afterwards: one dict per issue/record with its comments/work notes."""

    tickets: list[dict[str, Any]]
    failures: int = 0

    def text(self) -> str:
        return json.dumps(self.tickets, ensure_ascii=False, default=str)


async def ticket(scored: list[ScoredAlert], analyses: list[Analysis], kind: Tracker, *,
                 lifecycle: bool = True) -> Ticketed:
    """The ticket sink per alert: create and the analysis comment, then (``lifecycle``) an update
    (score band risen), resolution and a reopen; the simulator keeps every text the sink wrote."""
    adapter, sim = _tracker(kind)
    sink = TicketSink(adapter, _KAFKA, _SERDE, clock=lambda: T0)
    # Hotter: a ticket's priority follows its worst score while open and never drops (processors.tickets).
    later = [s.model_copy(update={"score": min(100, s.score + 15), "scored_at": s.scored_at + timedelta(minutes=5)})
             for s in scored]
    resolved = [s.model_copy(update={"alert": s.alert.model_copy(update={"status": AlertStatus.RESOLVED})})
                for s in later]
    failures = 0
    try:
        for batch in (scored, analyses, later, resolved, scored) if lifecycle else (scored, analyses):
            failed, _ = await sink.deliver(records(list(batch)))
            failures += len(failed)
    finally:
        await sink.close()
    if isinstance(sim, ServiceNowSimulator):
        notes = sim.records("sys_journal_field")
        tickets = [{**r, "journal": [n for n in notes if n.get("element_id") == r["sys_id"]]} for r in sim.records()]
    else:
        tickets = [{"key": i.key, "fields": i.fields, "comments": [c["body"] for c in i.comments]}
                   for i in sim.store.issues.values()]
    return Ticketed(tickets, failures)


async def chat(scored: list[ScoredAlert], kind: ChatKind) -> list[dict[str, Any]]:
    """Each alert through the chat sink (notified at its own tier); the bodies the webhook got."""
    sim = ChatWebhookSimulator(rate_per_s=None)
    path = f"/services/{sim.slack_path}" if kind is ChatKind.SLACK else sim.teams_path
    settings = ChatWebhookSettings(kind=kind, url=SecretStr(CHAT + path),
                                   retry=RetryPolicy(max_attempts=2, base_delay_s=0, max_delay_s=0))
    client = ChatWebhookClient(settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)))
    sink = ChatSink(ChatWebhookNotifier(settings, client=client), _KAFKA, _SERDE, notify_tier=RiskTier.LOW)
    try:
        await sink.deliver(records(list(scored)))
    finally:
        await sink.close()
    return list(sim.messages)


@dataclass
class Siem:
    events: list[SiemEvent] = field(default_factory=list)
    hec: list[dict[str, Any]] = field(default_factory=list)
    cef: list[str] = field(default_factory=list)


async def siem(scored: list[ScoredAlert], analyses: list[Analysis]) -> Siem:
    """Scored alerts and their analyses through the SIEM stage, then to HEC and as CEF lines."""
    stage = SiemTopicSink(include_analyses=True)
    events: list[SiemEvent] = []
    for batch in (scored, analyses, scored):
        _, out = await stage.deliver(records(list(batch)))
        events += [o.value for o in out if isinstance(o.value, SiemEvent)]
    sim = HecSimulator(HecSimConfig())
    hec_settings = SplunkHecSettings(url=HEC, token=SecretStr(HEC_TOKEN))
    client = HecClient(hec_settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)), sleep=_no_wait)
    hec = SiemForwardSink(SplunkHecForwarder(hec_settings, client=client))
    try:
        await hec.deliver(records(events))
    finally:
        await hec.close()
    return Siem(events, list(sim.events), [siem_event_to_cef(e) for e in events])


def dump(value: Any) -> str:
    """Everything captured, as one searchable text (models dumped, JSON unescaped, wiki/CEF escapes off)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
        value = [v.model_dump(mode="json") for v in value]
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("\\\\", "\\").replace("\\", "")
