"""A new ticket's wait for its analysis holds on the real broker: the parked record's offset is not
committed, so a sink stopped while waiting delivers it again after the restart, and the ticket is
created once, with the analysis in its body."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.jira.client import JiraClient
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator, SimClock, SimConfig
from connectors.jira.sink import JiraTicketTracker
from processors.models import RiskTier
from processors.tickets import TicketRules
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.sink import SinkOptions, SinkWorker
from streams.tickets import TicketSink
from streams.topics import ANALYSES, SCORED_ALERTS
from tests.factories import make_analysis, make_scored_alert
from tests.kafka_helpers import produce_models

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SITE = "https://prismaflow-sim.atlassian.net"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _committed(kafka: KafkaSettings, group: str, topic: str) -> int:
    """The offsets the group committed on ``topic``, summed over its partitions (none: 0)."""
    probe = Consumer({**kafka.client_config(), "group.id": group})
    try:
        for _ in range(20):
            try:
                return sum(max(tp.offset, 0) for tp in probe.committed(
                    [TopicPartition(topic, p) for p in range(6)], timeout=5))
            except KafkaException:  # the coordinator is still loading
                continue
        raise AssertionError("no answer from the group coordinator")
    finally:
        probe.close()


async def _until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    for _ in range(int(timeout_s * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_parked_ticket_survives_a_restart_and_is_created_with_its_analysis(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    scored = make_scored_alert(tier=RiskTier.CRITICAL, score=91)
    analysis = make_analysis(summary="Lateral movement to the payments database is one SSRF away.")
    scored_topic, analyses_topic = catalogue + SCORED_ALERTS.name, catalogue + ANALYSES.name
    produce_models(kafka, serde, scored_topic, [(scored.alert.resource.asset_id, scored)])
    clock = SimClock(base=lambda: T0.timestamp())
    sim = JiraSimulator(config=SimConfig(base_url=SITE), clock=clock)
    settings = JiraSettings(base_url=SITE, auth=BasicAuth(email="bot@example.com", api_token=SecretStr("sim-api-token")),
                            project_key="SEC", retry=RetryPolicy(max_attempts=2, base_delay_s=0, max_delay_s=0))
    group = unique_name("g")

    def worker() -> tuple[TicketSink, SinkWorker]:
        client = JiraClient(settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)),
                            sleep=clock.sleep)
        sink = TicketSink(JiraTicketTracker(settings, client), kafka, serde, topic_prefix=catalogue,
                          rules=TicketRules(analysis_wait_s=600), clock=lambda: T0, expects_analysis=lambda _: True)
        return sink, SinkWorker(kafka, serde, sink, SinkOptions(group_id=group, dlq_topic=catalogue + "prisma.dlq"))

    async def first_run() -> None:
        sink, running = worker()
        task = asyncio.create_task(running.run_async())
        await _until(sink.has_pending)
        await asyncio.sleep(1.0)  # several idle rounds, each committing what it may
        running.stop()
        await task

    asyncio.run(first_run())
    assert sim.issues_json() == [], "no ticket while its analysis is expected"
    assert _committed(kafka, group, scored_topic) == 0, "the parked record's offset was not committed"

    async def second_run() -> None:
        sink, running = worker()
        task = asyncio.create_task(running.run_async())
        await _until(sink.has_pending)  # the record came again after the restart, and waits again
        produce_models(kafka, serde, analyses_topic, [(analysis.asset_id, analysis)])
        await _until(lambda: not sink.has_pending() and _committed(kafka, group, scored_topic) == 1)
        running.stop()
        await task

    asyncio.run(second_run())
    (issue,) = sim.issues_json()
    assert "Lateral movement to the payments database" in str(issue["fields"]["description"])
    assert not any("Lateral movement" in str(c) for c in issue["comments"]), "in the body, not a comment"
