"""Ticket sinks end to end through the real broker: one Jira issue and one ServiceNow incident per
fingerprint, updates on recurrence, closing on resolution; no duplicate after a crash between the
tracker's create and the offset commit; a one-minute Jira outage loses and duplicates nothing;
the audit trail of it all verifies, and fails once a record is tampered with."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from confluent_kafka import KafkaException, Producer
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.jira.client import JiraClient
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator, SimClock, SimConfig
from connectors.jira.simulator.runtime import Fault
from connectors.jira.sink import JiraTicketTracker
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.settings import BasicAuth as SnBasicAuth
from connectors.servicenow.settings import ServiceNowSettings
from connectors.servicenow.simulator import ServiceNowSimulator
from connectors.servicenow.sink import ServiceNowTicketTracker
from processors.models import AlertStatus, ScoredAlert
from processors.tickets import TicketRules, fingerprint
from streams.audit import AuditWriter, verify_audit
from streams.embedded import ServedApp
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from tests.kafka_helpers import produce_models, read_topic
from streams.sink import SinkOptions, SinkWorker
from streams.tickets import TicketSink
from streams.topics import AUDIT, SCORED_ALERTS, TICKETS
from tests.factories import make_scored_alert
from tests.audit_keys import TEST_KEYRING, TEST_SIGNER

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SITE = "https://prismaflow-sim.atlassian.net"
SN = "https://prismaflow-sim.service-now.com"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _scored_stream() -> list[ScoredAlert]:
    """Six high/critical risks on different assets, recurrences, then three of them resolved."""
    base = make_scored_alert()
    records: list[ScoredAlert] = []
    for i in range(6):
        alert = base.alert.model_copy(update={
            "alert_id": f"P-90{i}", "resource": base.alert.resource.model_copy(
                update={"asset_id": f"aws:123456789012:us-east-1:instance/i-{i:04d}", "resource_id": f"i-{i:04d}"})})
        first = base.model_copy(update={"alert": alert, "score": 80 + i, "incident_id": None, "incident_members": []})
        records.append(first)
    for s in records[:6]:  # recurrence with a higher score band: an update, not a new ticket
        records.append(s.model_copy(update={"score": 95}))
    for s in records[:3]:  # Prisma reports three resolved
        records.append(s.model_copy(update={"alert": s.alert.model_copy(update={"status": AlertStatus.RESOLVED})}))
    return records


def _scored_topic_and_jira(kafka: KafkaSettings, serde: AvroSerde, catalogue: str,
                           records: list[ScoredAlert]) -> tuple[SimClock, JiraSimulator]:
    """``records`` on the catalogue's scored topic (keyed by asset), and a Jira simulator whose
    simulated clock starts at ``T0``."""
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, ((r.alert.resource.asset_id, r) for r in records))
    clock = SimClock(base=lambda: T0.timestamp())
    return clock, JiraSimulator(config=SimConfig(base_url=SITE), clock=clock)


class Crash(BaseException):
    """The process dying: not an Exception, so nothing on the way catches it."""


class CrashAfterCreate:
    """Wraps a tracker and dies right after the tracker's first create (before state and commit)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.tracker = inner, inner.tracker

    async def create(self, *args: Any) -> Any:
        await self.inner.create(*args)
        raise Crash()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _jira(sim: JiraSimulator, clock: SimClock) -> tuple[JiraSettings, Callable[[], JiraClient]]:
    settings = JiraSettings(base_url=SITE, auth=BasicAuth(email="bot@example.com", api_token=SecretStr("sim-api-token")),
                            project_key="SEC", retry=RetryPolicy(max_attempts=4, base_delay_s=1, max_delay_s=8))

    def client() -> JiraClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))
        return JiraClient(settings, client=http, sleep=clock.sleep)

    return settings, client


def _run_sink(kafka: KafkaSettings, serde: AvroSerde, catalogue: str, tracker: Any, group: str, expect: int,
              sleep: Any = asyncio.sleep) -> None:
    """Run a sink worker until it has committed ``expect`` input records (or it dies)."""
    audit = AuditWriter(f"{catalogue}tickets.{tracker.tracker.value}/0", kafka, serde, signer=TEST_SIGNER, topic=catalogue + AUDIT.name)
    audit.start()
    sink = TicketSink(tracker, kafka, serde, topic_prefix=catalogue, audit=audit, rules=TicketRules(),
                      clock=lambda: T0)
    worker = SinkWorker(kafka, serde, sink, SinkOptions(group_id=group, max_batch=4, dlq_topic=catalogue + "prisma.dlq"),
                        sleep=sleep)

    async def main() -> None:
        task = asyncio.create_task(worker.run_async())
        from confluent_kafka import Consumer, TopicPartition

        probe = Consumer({**kafka.client_config(), "group.id": group})
        try:
            for _ in range(600):
                await asyncio.sleep(0.1)
                if task.done():
                    break
                try:
                    committed = probe.committed([TopicPartition(catalogue + SCORED_ALERTS.name, p) for p in range(6)],
                                                timeout=5)
                except KafkaException:  # the group coordinator is still loading: ask again
                    continue
                if sum(max(tp.offset, 0) for tp in committed) >= expect:
                    break
        finally:
            probe.close()
            worker.stop()
            await task

    asyncio.run(main())


def _issues_per_fingerprint(sim: JiraSimulator) -> Counter[str]:
    labels: Counter[str] = Counter()
    for issue in sim.issues_json():
        for label in issue["fields"]["labels"]:
            if label.startswith("prismaflow-fp-"):
                labels[label.removeprefix("prismaflow-fp-")] += 1
    return labels


def test_one_jira_issue_and_one_servicenow_incident_per_fingerprint_updated_and_closed(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    records = _scored_stream()
    fingerprints = {fingerprint(r) for r in records}

    clock, jira_sim = _scored_topic_and_jira(kafka, serde, catalogue, records)
    settings, client = _jira(jira_sim, clock)
    _run_sink(kafka, serde, catalogue, JiraTicketTracker(settings, client()), unique_name("g"), len(records))

    assert _issues_per_fingerprint(jira_sim) == Counter({fp: 1 for fp in fingerprints})
    issues = jira_sim.issues_json()
    resolved = {fingerprint(r) for r in records if r.alert.status is AlertStatus.RESOLVED}
    for issue in issues:
        fp = next(l for l in issue["fields"]["labels"] if l.startswith("prismaflow-fp-")).removeprefix("prismaflow-fp-")
        done = issue["fields"]["status"]["statusCategory"]["key"] == "done"
        assert done == (fp in resolved)
        assert issue["comments"], "the recurrence was added as an update"

    sn_sim = ServiceNowSimulator()
    sn_settings = ServiceNowSettings(instance_url=SN, auth=SnBasicAuth(username="prismaflow", password=SecretStr("sim-password")))
    sn_client = ServiceNowClient(sn_settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sn_sim)))
    _run_sink(kafka, serde, catalogue, ServiceNowTicketTracker(sn_settings, sn_client), unique_name("g"), len(records))
    incidents = sn_sim.records("incident")
    assert Counter(i["correlation_id"] for i in incidents) == Counter({fp: 1 for fp in fingerprints})
    for incident in incidents:
        assert (incident["state"] == "6") == (incident["correlation_id"] in resolved)

    # State lives in prisma.tickets, one entry per tracker and fingerprint.
    keys = {m.key().decode() for m in read_topic(kafka, catalogue + TICKETS.name, settle_s=1)}
    assert keys == {f"jira:{fp}" for fp in fingerprints} | {f"servicenow:{fp}" for fp in fingerprints}
    # Every ticket action is on the audit trail, and the chains verify.
    reports = verify_audit(kafka, serde, catalogue + AUDIT.name, keyring=TEST_KEYRING)
    assert {r.chain for r in reports} == {f"{catalogue}tickets.jira/0", f"{catalogue}tickets.servicenow/0"}
    assert all(r.report.ok and r.report.checked >= len(fingerprints) for r in reports)


def test_a_crash_between_the_trackers_create_and_the_commit_creates_no_duplicate(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    records = _scored_stream()[:6]
    clock, sim = _scored_topic_and_jira(kafka, serde, catalogue, records)
    settings, client = _jira(sim, clock)
    group = unique_name("g")
    with pytest.raises(Crash):
        _run_sink(kafka, serde, catalogue, CrashAfterCreate(JiraTicketTracker(settings, client())), group, len(records))
    assert len(sim.issues_json()) == 1  # created in Jira; neither state nor offset was written
    _run_sink(kafka, serde, catalogue, JiraTicketTracker(settings, client()), group, len(records))
    assert _issues_per_fingerprint(sim) == Counter({fingerprint(r): 1 for r in records})


def test_a_one_minute_jira_outage_loses_nothing_and_duplicates_nothing(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    records = _scored_stream()
    clock, sim = _scored_topic_and_jira(kafka, serde, catalogue, records)
    sim.add_fault(Fault(route="*", kind="5xx", status=503, duration_s=60))
    settings, client = _jira(sim, clock)
    waited: list[float] = []

    async def pause(seconds: float) -> None:  # the sink's pause moves simulated time too
        waited.append(seconds)
        clock.advance(max(seconds, 5.0))

    _run_sink(kafka, serde, catalogue, JiraTicketTracker(settings, client()), unique_name("g"), len(records), sleep=pause)
    assert waited, "the sink paused during the outage"
    assert clock.now() - T0.timestamp() >= 60
    assert _issues_per_fingerprint(sim) == Counter({fingerprint(r): 1 for r in records})


def test_audit_verify_fails_on_a_tampered_record(kafka: KafkaSettings, serde: AvroSerde, catalogue: str) -> None:
    writer = AuditWriter("approvals/0", kafka, serde, signer=TEST_SIGNER, topic=catalogue + AUDIT.name)
    writer.start()
    producer = Producer(kafka.client_config())
    records = [writer.record("person", "alice@example.com", "fix_approved", alert_id=f"P-{i}") for i in range(5)]
    for i, r in enumerate(records):
        value = r.value
        if i == 2:  # an insider edits a record on its way in
            value = value.model_copy(update={"actor": "mallory@example.com"})  # type: ignore[union-attr]
        producer.produce(r.topic, key=r.key.encode(), value=serde.encode(value, topic=r.topic))  # type: ignore[union-attr,arg-type]
    assert producer.flush(10) == 0
    (report,) = verify_audit(kafka, serde, catalogue + AUDIT.name, keyring=TEST_KEYRING)
    assert not report.report.ok
    assert [p.kind for p in report.report.problems] == ["tampered"]
    assert report.report.problems[0].sequence == 2


def test_a_create_whose_answer_jira_lost_is_found_not_sent_again(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    # Jira creates the issue but its answer comes after the client's timeout (a loaded machine, a
    # proxy): resending the POST would open a second issue. The client gives the ambiguity to the
    # sink, which pauses, and on its retry finds the issue by fingerprint instead of creating again.
    records = _scored_stream()[:6]
    _, sim = _scored_topic_and_jira(kafka, serde, catalogue, records)
    sim.add_fault(Fault(route="/rest/api/3/issue", method="POST", kind="lost_answer", delay_s=2.0, count=2))
    served = ServedApp(sim)
    try:
        settings = JiraSettings(base_url=served.url, auth=BasicAuth(email="bot@example.com",
                                                                     api_token=SecretStr("sim-api-token")),
                                project_key="SEC", request_timeout_s=0.5,
                                retry=RetryPolicy(max_attempts=4, base_delay_s=0.1, max_delay_s=0.5))
        _run_sink(kafka, serde, catalogue, JiraTicketTracker(settings), unique_name("g"), len(records))
    finally:
        served.stop()
    assert sim.faults == [], "both lost answers happened"
    assert _issues_per_fingerprint(sim) == Counter({fingerprint(r): 1 for r in records})
