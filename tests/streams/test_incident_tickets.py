"""An incident's ticket through the real ticket sink and the tracker simulators: one ticket for the
role, the instance's vulnerability and its open security group, whose priority is the worst open
member's and never drops while that member is open (Jira priority, ServiceNow impact)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.jira.client import JiraClient
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator, SimClock, SimConfig
from connectors.jira.sink import JiraTicketTracker
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.settings import BasicAuth as SnBasicAuth
from connectors.servicenow.settings import ServiceNowSettings
from connectors.servicenow.simulator import ServiceNowSimulator
from connectors.servicenow.sink import ServiceNowTicketTracker
from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.tickets import TicketRules
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.sink import SinkRecord
from streams.tickets import TicketSink, TrackerAdapter
from tests.processors import payloads as p
from tests.processors.graph_core import GraphCore
from tests.processors.test_graph import host_vulns, instance_config, role, security_group

SITE = "https://prismaflow-sim.atlassian.net"
SN = "https://prismaflow-sim.service-now.com"
T0 = datetime(2024, 6, 10, 15, 0, tzinfo=UTC)
RANK = {"Lowest": 0, "Low": 1, "Medium": 2, "High": 3, "Highest": 4}


def _incident_stream() -> list[ScoredAlert]:
    """What the core emits for the acceptance story, then the worst member re-scored lower while
    open (its exposure gone), then closed."""
    core = GraphCore()
    core.feed(role(0), security_group(1), host_vulns(2), instance_config(3))
    core.feed(instance_config(4, groups=(p.SECURITY_GROUP, "sg-0aaaaaaaaaaaaaaaa")))  # members re-emitted again
    worst = max((s for s in core.scored if s.incident_id), key=lambda s: s.score)
    lower = worst.model_copy(update={"score": 30, "tier": RiskTier.LOW, "incident_update": True})
    closed = worst.model_copy(update={"alert": worst.alert.model_copy(update={"status": AlertStatus.RESOLVED}),
                                      "score": 30, "tier": RiskTier.LOW})
    return [*core.scored, lower, closed]


async def _deliver(sink: TicketSink, records: list[ScoredAlert], observe: Any) -> list[Any]:
    seen = []
    for offset, scored in enumerate(records):
        record = SinkRecord(topic="prisma.alerts.scored", partition=0, offset=offset, key=None, value=scored, raw=b"")
        failures, _ = await sink.deliver([record])
        assert failures == []
        seen.append(await observe(scored))
    await sink.close()
    return seen


def _sink(adapter: TrackerAdapter) -> TicketSink:
    return TicketSink(adapter, KafkaSettings(), AvroSerde(), rules=TicketRules(min_tier=RiskTier.MEDIUM),
                      clock=lambda: T0)


def _jira_sink() -> tuple[JiraSimulator, JiraSettings, TicketSink]:
    """A Jira simulator on a clock frozen at ``T0``, and the settings and ticket sink of a client to it."""
    clock = SimClock(base=lambda: T0.timestamp())
    sim = JiraSimulator(config=SimConfig(base_url=SITE), clock=clock)
    settings = JiraSettings(base_url=SITE, auth=BasicAuth(email="bot@example.com", api_token=SecretStr("sim-api-token")),
                            project_key="SEC", retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01))
    client = JiraClient(settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)), sleep=clock.sleep)
    return sim, settings, _sink(JiraTicketTracker(settings, client))


def test_the_jira_issue_of_an_incident_keeps_its_worst_open_members_priority() -> None:
    records = _incident_stream()
    sim, settings, sink = _jira_sink()

    incident = next(s.incident_id for s in records if s.incident_id)

    async def incident_priority(_: ScoredAlert) -> str | None:
        state = sink.state.get(incident)  # type: ignore[arg-type]
        if state is None:
            return None
        issue = next(i for i in sim.issues_json() if i["key"] == state.ticket_key)
        return str(issue["fields"]["priority"]["name"])

    seen = asyncio.run(_deliver(sink, records, incident_priority))
    history = [s for s in seen if s is not None]
    open_part = history[:-1]  # until the worst member closes
    assert open_part and all(RANK[b] >= RANK[a] for a, b in zip(open_part, open_part[1:])), history
    order = [RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL]
    worst = max((r.tier for r in records[:-2] if r.incident_id == incident), key=order.index)
    assert open_part[-1] == settings.tier_priorities[worst]  # the worst member set it, and it held while open
    state = sink.state[incident]  # type: ignore[index]
    assert {"P-3000003", "P-3000004", "P-3000005"} <= set(state.alert_ids)


def test_the_servicenow_incident_impact_does_not_flip_as_members_are_rescored() -> None:
    records = _incident_stream()
    sim = ServiceNowSimulator()
    settings = ServiceNowSettings(instance_url=SN, auth=SnBasicAuth(username="prismaflow", password=SecretStr("sim-password")))
    sink = _sink(ServiceNowTicketTracker(settings, ServiceNowClient(
        settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)))))

    incident = next(s.incident_id for s in records if s.incident_id)

    async def incident_impact(_: ScoredAlert) -> str | None:
        state = sink.state.get(incident)  # type: ignore[arg-type]
        if state is None:
            return None
        return str(next(r for r in sim.records("incident") if r["sys_id"] == state.ticket_key)["impact"])

    seen = asyncio.run(_deliver(sink, records, incident_impact))
    impacts = [int(i) for i in seen[:-1] if i is not None]  # impact 1 is the highest
    assert impacts and all(b <= a for a, b in zip(impacts, impacts[1:])), impacts


def test_a_member_left_alone_when_its_incident_ends_stays_on_the_incident_ticket_until_it_closes() -> None:
    from tests.factories import make_scored_alert

    base = make_scored_alert(incident_id="inc-1", incident_members=["P-A", "P-B"])

    def member(alert_id: str, *, incident: str | None = "inc-1", members: tuple[str, ...] = ("P-A", "P-B"),
               status: AlertStatus = AlertStatus.OPEN, tier: RiskTier = RiskTier.HIGH, score: int = 70) -> ScoredAlert:
        return base.model_copy(update={"alert": base.alert.model_copy(update={"alert_id": alert_id, "status": status}),
                                       "incident_id": incident, "incident_members": list(members),
                                       "tier": tier, "score": score})

    stream = [
        member("P-A"), member("P-B", tier=RiskTier.CRITICAL, score=90),
        member("P-B", status=AlertStatus.RESOLVED, members=("P-A",)),  # leaves, naming the incident
        member("P-A", incident=None, members=()),  # the incident ended around it: re-emitted alone
        member("P-A", incident=None, members=(), status=AlertStatus.RESOLVED),
    ]
    sim, _, sink = _jira_sink()

    async def issue_states(_: ScoredAlert) -> list[tuple[str, str]]:
        return [(i["fields"]["priority"]["name"], i["fields"]["status"]["statusCategory"]["key"])
                for i in sim.issues_json()]

    seen = asyncio.run(_deliver(sink, stream, issue_states))
    assert all(len(s) == 1 for s in seen)  # one ticket all along: no second one for the lone member
    assert seen[1][0][0] == "Highest" and seen[2][0][0] == "High"  # the critical member closed: it may drop now
    assert seen[3][0] == ("High", "new")  # the lone member is still tracked by the incident's ticket
    assert seen[4][0][1] == "done"  # and its closing resolves that ticket
