"""SIEM sinks end to end through the real broker: scored alerts become ``prisma.siem.events``
(key alert id, stable event ids), the Splunk sink delivers them to the HEC simulator in
well-formed batches under the size limit, the syslog sink delivers valid CEF in RFC 5424 over TLS
to a real rsyslog; an HEC outage pauses the sink and loses nothing; an event HEC refuses for good
is dead-lettered with HEC's answer; a syslog receiver that is not up yet pauses the sink."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from pydantic import BaseModel, SecretStr

from connectors.base import RetryPolicy
from connectors.splunk.client import HecClient
from connectors.splunk.settings import HecRoute, SplunkHecSettings
from connectors.splunk.simulator import Fault, HecSimulator
from connectors.splunk.sink import SplunkHecForwarder
from connectors.syslog.client import SyslogSettings
from connectors.syslog.sink import SyslogCefForwarder
from processors.models import RiskTier, ScoredAlert, Severity, UpdateKind
from processors.records import DeadLetter, SiemEvent
from processors.siem import analysis_siem_event, siem_event
from schemas import expand, load_schemas
from processors.errors import ConfigurationError
from streams.chat import ChatSink
from streams.compose import build_sink
from streams.config import load_settings, sections
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from tests.kafka_helpers import produce_models, read_topic
from streams.siem import SiemTopicSink
from streams.siem_forward import SiemForwardSink
from streams.sink import Sink, SinkOptions, SinkWorker
from streams.topics import ANALYSES, DLQ, SCORED_ALERTS, SIEM_EVENTS
from tests.connectors.syslog.conftest import RsyslogFactory, rsyslog  # noqa: F401 - the fixture
from tests.connectors.syslog.support import cef_labelled, parse_cef, parse_rfc5424
from tests.factories import make_analysis, make_scored_alert, make_siem_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]

HEC = "http://hec.sim:8088"
TOKEN = "11111111-2222-3333-4444-555555555555"
ACK_TOKEN = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
TIERS = (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL)
ENVELOPE = {"time", "host", "source", "sourcetype", "index", "event", "fields"}


def run_sink(kafka: KafkaSettings, serde: AvroSerde, sink: Sink, *, group: str, dlq_topic: str,
             expect: dict[str, int], sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
             max_batch: int = 50, timeout_s: float = 30.0) -> None:
    """Run ``sink`` in a worker until the group committed ``expect[topic]`` records of each topic."""
    worker = SinkWorker(kafka, serde, sink, SinkOptions(group_id=group, max_batch=max_batch, dlq_topic=dlq_topic),
                        sleep=sleep)

    async def main() -> None:
        task = asyncio.create_task(worker.run_async())
        probe = Consumer({**kafka.client_config(), "group.id": group})
        partitions = [TopicPartition(topic, p) for topic in expect
                      for p in probe.list_topics(topic, timeout=10).topics[topic].partitions]
        deadline = time.monotonic() + timeout_s
        try:
            while not task.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                try:
                    committed = await asyncio.to_thread(probe.committed, partitions, 5)
                except KafkaException:  # the group coordinator is still moving in (a fresh broker)
                    continue
                done = {topic: sum(max(tp.offset, 0) for tp in committed if tp.topic == topic) for topic in expect}
                if all(done[topic] >= n for topic, n in expect.items()):
                    break
            else:
                if not task.done():
                    pytest.fail(f"sink {sink.name} did not commit {expect} in {timeout_s}s")
        finally:
            probe.close()
            worker.stop()
            await task

    asyncio.run(main())


def scored_stream() -> list[ScoredAlert]:
    """Twelve open alerts on twelve assets, three per tier."""
    base = make_scored_alert(incident_id=None, incident_members=[])
    out: list[ScoredAlert] = []
    for i in range(12):
        tier = TIERS[i % 4]
        alert = base.alert.model_copy(update={
            "alert_id": f"P-70{i:02d}", "severity": Severity.HIGH if tier is RiskTier.CRITICAL else Severity.MEDIUM,
            "policy_name": f"Policy {i} | with = signs",
            "resource": base.alert.resource.model_copy(update={"asset_id": f"aws:1:eu-west-1:i-{i:04d}",
                                                               "resource_id": f"i-{i:04d}"})})
        out.append(base.model_copy(update={"alert": alert, "tier": tier, "score": 20 + 20 * (i % 4),
                                           "scored_at": T0 + timedelta(seconds=i)}))
    return out


def hec_sink(sim: HecSimulator, catalogue: str, *, token: str = TOKEN, retry: RetryPolicy | None = None,
             **settings: Any) -> SiemForwardSink:
    hec_settings = SplunkHecSettings(url=HEC, token=SecretStr(token), **settings)

    async def no_wait(_: float) -> None:
        return None

    client = HecClient(hec_settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)),
                       retry=retry, sleep=no_wait)
    return SiemForwardSink(SplunkHecForwarder(hec_settings, client=client), topic_prefix=catalogue)


def sim_events(sim: HecSimulator) -> dict[str, Any]:
    """``GET /_sim/events`` through the simulator's own admin API."""
    async def get() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url=HEC) as client:
            response = await client.get("/_sim/events")
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    return asyncio.run(get())


def test_scored_alerts_reach_splunk_and_rsyslog_through_prisma_siem_events(
    kafka: KafkaSettings, catalogue: str, unique_name: Callable[[str], str], rsyslog: RsyslogFactory,  # noqa: F811
) -> None:
    serde, dlq = AvroSerde(), catalogue + DLQ.name
    scored = scored_stream()
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(s.alert.resource.asset_id, s) for s in scored])
    run_sink(kafka, serde, SiemTopicSink(topic_prefix=catalogue), group=unique_name("siem"), dlq_topic=dlq,
             expect={catalogue + SCORED_ALERTS.name: len(scored)})

    # prisma.siem.events: one event per scored alert, keyed by alert id, with the stable id.
    messages = read_topic(kafka, catalogue + SIEM_EVENTS.name, expect=len(scored), settle_s=0.5)
    events = {m.key().decode(): serde.decode(m.value(), SiemEvent, topic=catalogue + SIEM_EVENTS.name) for m in messages}
    assert len(messages) == len(scored)
    assert events == {s.alert.alert_id: siem_event(s) for s in scored}
    _check_the_documented_consumer_reads(kafka, catalogue, unique_name("doc"), events)

    # Splunk: small batches (count and bytes), indexer acknowledgement on.
    sim = HecSimulator()
    limit = 4096
    sink = hec_sink(sim, catalogue, token=ACK_TOKEN, use_ack=True, max_batch_events=5, max_batch_bytes=limit,
                    index="security")
    run_sink(kafka, serde, sink, group=unique_name("splunk"), dlq_topic=dlq,
             expect={catalogue + SIEM_EVENTS.name: len(scored)})
    received = sim_events(sim)
    assert len(received["events"]) == len(scored) == sum(b["events"] for b in received["batches"])
    assert len(received["batches"]) >= 3
    assert all(b["bytes"] <= limit and b["events"] <= 5 and b["gzip"] for b in received["batches"])
    assert all(b["channel"] == sink.forwarder.client.channel for b in received["batches"])  # type: ignore[attr-defined]
    by_id = {e["event"]["event_id"]: e for e in received["events"]}
    assert set(by_id) == {e.event_id for e in events.values()}
    for event in events.values():
        hec = by_id[event.event_id]
        assert ENVELOPE <= set(hec) and hec["index"] == "security"
        assert (hec["sourcetype"], hec["source"], hec["host"]) == ("prismaflow:alert", "prismaflow", "prismaflow")
        assert hec["time"] == pytest.approx(event.event_time.timestamp())
        assert hec["fields"]["tier"] == event.tier.value and hec["event"]["alert_id"] == event.alert_id

    # Syslog over TLS to a real rsyslog: only medium and above, each line RFC 5424 with valid CEF.
    server = rsyslog(tls=True)
    syslog = SyslogSettings(host="127.0.0.1", port=server.port, ca_file=server.cert, hostname="pf-node-1",
                            retry=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2))
    forwarder = SyslogCefForwarder(syslog, console_base_url="https://app.prismacloud.io/alerts")
    run_sink(kafka, serde, SiemForwardSink(forwarder, topic_prefix=catalogue, min_tier=RiskTier.MEDIUM),
             group=unique_name("syslog"), dlq_topic=dlq, expect={catalogue + SIEM_EVENTS.name: len(scored)})
    wanted = {e.event_id: e for e in events.values() if e.tier is not RiskTier.LOW}
    lines = server.wait_for(len(wanted))
    assert len(lines) == len(wanted)
    for line in lines:
        message = parse_rfc5424(line)
        assert (message.facility, message.app_name, message.hostname) == (16, "prismaflow", "pf-node-1")
        assert message.msg is not None
        cef = parse_cef(message.msg.decode())
        event = wanted.pop(cef.extension["externalId"])
        assert cef.name == event.policy_name and cef_labelled(cef)["alertId"] == event.alert_id
        assert cef.extension["request"] == f"https://app.prismacloud.io/alerts/{event.alert_id}"
        assert int(cef.extension["rt"]) == int(event.event_time.timestamp() * 1000)
    assert not wanted


def _check_the_documented_consumer_reads(kafka: KafkaSettings, catalogue: str, group: str,
                                         events: dict[str, SiemEvent]) -> None:
    """Run the Python consumer of docs/siem-events.md, as a reader of the topic would paste it."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "siem-events.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", doc, re.DOTALL)
    namespace: dict[str, Any] = {"__name__": "siem_events_doc"}
    exec(compile(snippet, "docs/siem-events.md", "exec"), namespace)  # noqa: S102 - our own documentation
    got: dict[str, dict[str, Any]] = {}
    namespace["consume"](kafka.bootstrap_servers, group, got.__setitem__, schema=expand(load_schemas()["SiemEvent"]),
                         topic=catalogue + SIEM_EVENTS.name, stop_after_idle_s=3)
    assert set(got) == set(events)
    for alert_id, event in events.items():
        read = got[alert_id]
        assert read["event_id"] == event.event_id and read["event_time"] == event.event_time
        assert (read["tier"], read["module"], read["ticket_key"]) == (event.tier.name, event.module.name, None)


def _siem_events(kafka: KafkaSettings, serde: AvroSerde, catalogue: str, n: int,
                 tier: RiskTier | None = None) -> list[tuple[str, BaseModel]]:
    """``n`` SIEM events (of ``tier``, or of every tier in turn) written to the catalogue's topic."""
    events = [make_siem_event(event_id=f"00000000-0000-4000-8000-{i:012d}", alert_id=f"P-80{i:02d}",
                              tier=tier or TIERS[i % 4], event_time=T0 + timedelta(seconds=i)) for i in range(n)]
    records: list[tuple[str, BaseModel]] = [(e.alert_id, e) for e in events]
    produce_models(kafka, serde, catalogue + SIEM_EVENTS.name, records)
    return records


def test_an_hec_outage_pauses_the_sink_and_loses_nothing(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    records = _siem_events(kafka, serde, catalogue, 12)
    sim = HecSimulator()
    sim.faults.append(Fault(kind="busy", route="event", count=7))  # 503 "Server is busy" for a while
    paused: list[float] = []

    async def pause(seconds: float) -> None:
        paused.append(seconds)

    sink = hec_sink(sim, catalogue, retry=RetryPolicy(max_attempts=2, base_delay_s=0, max_delay_s=0), max_batch_events=4)
    run_sink(kafka, serde, sink, group=unique_name("splunk"), dlq_topic=catalogue + DLQ.name,
             expect={catalogue + SIEM_EVENTS.name: len(records)}, sleep=pause)
    assert len(paused) >= 3, "the sink paused while HEC answered 503"
    assert sim.stats["POST event"]["statuses"]["503"] == 7
    received = [e["event"]["event_id"] for e in sim_events(sim)["events"]]
    assert sorted(received) == sorted(r.event_id for _, r in records)  # type: ignore[attr-defined]
    assert not read_topic(kafka, catalogue + DLQ.name, settle_s=0.3, timeout_s=5)


def test_an_event_hec_refuses_goes_to_the_dlq_with_the_response(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    records = _siem_events(kafka, serde, catalogue, 8)
    sim = HecSimulator()
    # Critical events are routed to an index the token may not write: HEC code 7, for good.
    sink = hec_sink(sim, catalogue, routes=[HecRoute(tier=RiskTier.CRITICAL, index="forbidden")])
    run_sink(kafka, serde, sink, group=unique_name("splunk"), dlq_topic=catalogue + DLQ.name,
             expect={catalogue + SIEM_EVENTS.name: len(records)})
    refused = {r.event_id for _, r in records if r.tier is RiskTier.CRITICAL}  # type: ignore[attr-defined]
    received = {e["event"]["event_id"] for e in sim_events(sim)["events"]}
    assert received == {r.event_id for _, r in records} - refused  # type: ignore[attr-defined]
    dead = [serde.decode(m.value(), DeadLetter, topic=catalogue + DLQ.name)
            for m in read_topic(kafka, catalogue + DLQ.name, expect=len(refused), settle_s=0.3)]
    assert len(dead) == len(refused)
    for letter in dead:
        assert letter.stage == "sink.splunk" and letter.original_topic == catalogue + SIEM_EVENTS.name
        assert letter.error_class == "HecRejectedError"
        assert "Incorrect index" in letter.error_message and "code 7" in letter.error_message
        assert letter.original_value is not None
        event = serde.decode(letter.original_value, SiemEvent, topic=catalogue + SIEM_EVENTS.name)
        assert event.event_id in refused


def test_a_syslog_receiver_that_is_down_pauses_the_sink_until_it_is_up(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str], rsyslog: RsyslogFactory,  # noqa: F811
) -> None:
    records = _siem_events(kafka, serde, catalogue, 6, tier=RiskTier.HIGH)
    from tests.conftest import _free_port

    port = _free_port()
    servers: list[Any] = []

    async def pause(seconds: float) -> None:  # the receiver comes up during the first pause
        if not servers:
            servers.append(await asyncio.to_thread(rsyslog, port=port))

    settings = SyslogSettings(host="127.0.0.1", port=port, tls=False,
                              retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02))
    run_sink(kafka, serde, SiemForwardSink(SyslogCefForwarder(settings), topic_prefix=catalogue),
             group=unique_name("syslog"),
             dlq_topic=catalogue + DLQ.name, expect={catalogue + SIEM_EVENTS.name: len(records)}, sleep=pause)
    assert servers, "the sink paused while nothing listened"
    lines = servers[0].wait_for(len(records))
    ids = {parse_cef(parse_rfc5424(line).msg.decode()).extension["externalId"] for line in lines}
    assert ids == {r.event_id for _, r in records}  # type: ignore[attr-defined]


def test_with_analyses_the_stage_emits_a_follow_up_event_and_uses_the_summary_later(
    kafka: KafkaSettings, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    serde, group = AvroSerde(), unique_name("siem")
    scored_topic, analyses_topic = catalogue + SCORED_ALERTS.name, catalogue + ANALYSES.name
    scored = scored_stream()[:4]
    sink = SiemTopicSink(topic_prefix=catalogue, include_analyses=True)
    produce_models(kafka, serde, scored_topic, [(s.alert.resource.asset_id, s) for s in scored])
    run_sink(kafka, serde, sink, group=group, dlq_topic=catalogue + DLQ.name, expect={scored_topic: 4})
    analysis = make_analysis(alert_id=scored[3].alert.alert_id, incident_id=None,
                             asset_id=scored[3].alert.resource.asset_id)
    produce_models(kafka, serde, analyses_topic, [(analysis.asset_id, analysis)])
    recurrence = scored[3].model_copy(update={"update_kind": UpdateKind.RECURRENCE,
                                              "scored_at": T0 + timedelta(hours=1)})
    # The same sink instance: what it remembered of run one is still there (it is lost on restart).
    run_sink(kafka, serde, sink, group=group, dlq_topic=catalogue + DLQ.name, expect={scored_topic: 4, analyses_topic: 1})
    produce_models(kafka, serde, scored_topic, [(recurrence.alert.resource.asset_id, recurrence)])
    run_sink(kafka, serde, sink, group=group, dlq_topic=catalogue + DLQ.name, expect={scored_topic: 5, analyses_topic: 1})
    events = [serde.decode(m.value(), SiemEvent, topic=catalogue + SIEM_EVENTS.name)
              for m in read_topic(kafka, catalogue + SIEM_EVENTS.name, expect=6, settle_s=0.5)]
    assert [e.event_id for e in events if e.alert_id == analysis.alert_id] == [
        siem_event(scored[3]).event_id, analysis_siem_event(scored[3], analysis).event_id,
        siem_event(recurrence).event_id]
    assert [e.summary for e in events if e.alert_id == analysis.alert_id][1:] == [analysis.summary] * 2
    assert len(events) == 6


def test_build_sink_configures_each_sink_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "PRISMAFLOW_SIEM_INCLUDE_ANALYSES": "true",
        "PRISMAFLOW_SPLUNK_URL": "https://splunk.example.com:8088", "PRISMAFLOW_SPLUNK_TOKEN": TOKEN,
        "PRISMAFLOW_SPLUNK_MIN_TIER": "high", "PRISMAFLOW_SPLUNK_USE_ACK": "true",
        "PRISMAFLOW_SYSLOG_HOST": "siem.example.com", "PRISMAFLOW_SYSLOG_PORT": "1514",
        "PRISMAFLOW_SYSLOG_TLS": "false",
        "PRISMAFLOW_CHAT_KIND": "teams", "PRISMAFLOW_CHAT_WEBHOOK_URL": "https://teams.example.com/wf?sig=s3cret",
        "PRISMAFLOW_CHAT_APPROVAL_BASE_URL": "https://prismaflow.example.com/approve", "PRISMAFLOW_CHAT_AUDIT": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", "t.")
    settings, serde = load_settings(), AvroSerde()
    stage = build_sink("siem", settings, serde)
    splunk = build_sink("splunk", settings, serde)
    syslog = build_sink("syslog", settings, serde)
    notify = build_sink("chat", settings, serde)
    assert isinstance(stage, SiemTopicSink) and stage.topics == ("t.prisma.alerts.scored", "t.prisma.analyses", "t.prisma.tickets")
    assert isinstance(splunk, SiemForwardSink) and isinstance(splunk.forwarder, SplunkHecForwarder)
    assert splunk.forwarder.settings.use_ack and splunk.min_tier is RiskTier.HIGH
    assert splunk.topics == ("t.prisma.siem.events",) and "s3cret" not in repr(splunk.forwarder.settings)
    assert isinstance(syslog, SiemForwardSink) and isinstance(syslog.forwarder, SyslogCefForwarder)
    assert (syslog.forwarder.settings.host, syslog.forwarder.settings.port) == ("siem.example.com", 1514)
    assert syslog.min_tier is RiskTier.MEDIUM and not syslog.forwarder.settings.tls
    assert isinstance(notify, ChatSink) and notify.name == "chat.teams" and notify.audit is None
    assert notify.approval_base_url == "https://prismaflow.example.com/approve"
    assert "s3cret" not in repr(settings.chat)
    for sink in (stage, splunk, syslog, notify):
        asyncio.run(sink.close())
    with pytest.raises(ConfigurationError, match="unknown"):
        build_sink("nowhere", settings, serde)
    by_name = {section.name: section for section in sections()}
    for name in ("siem", "splunk", "splunk_sink", "syslog", "syslog_sink", "chat", "chat_sink"):
        section = by_name[name]
        assert section.title and all(field.description for _, _, field in section.variables())
