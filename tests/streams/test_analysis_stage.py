"""The analysis stage through the real broker: every scored alert above the threshold gets an
analysis on prisma.analyses (offline when no LLM is configured, labelled so), with an audit record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from processors.models import RiskTier
from processors.records import Analyser, Analysis
from streams.analysis import AnalysisService, AnalysisSettings
from streams.analysis import AnalysisSink
from streams.audit import AuditWriter, verify_audit
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.sink import SinkOptions, SinkWorker
from streams.topics import ANALYSES, AUDIT, CATALOGUE, SCORED_ALERTS, create_topics
from tests.kafka_helpers import read_topic
from tests.streams.analysis.test_bench_mix_budget import _scored
from tests.audit_keys import TEST_KEYRING, TEST_SIGNER

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_with_no_llm_every_scored_alert_above_threshold_gets_an_offline_analysis(
    kafka_bootstrap: str, topic_prefix: str, unique_name: Callable[[str], str],
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    create_topics(AdminClient(kafka.client_config()), CATALOGUE, prefix=topic_prefix)
    serde = AvroSerde()
    scored = _scored(600)
    producer = Producer(kafka.client_config())
    topic = topic_prefix + SCORED_ALERTS.name
    for s in scored:
        producer.produce(topic, key=s.alert.resource.asset_id.encode(), value=serde.encode(s, topic=topic))
    assert producer.flush(30) == 0

    service = AnalysisService(AnalysisSettings(min_tier=RiskTier.MEDIUM))
    expected = [s for s in scored if service.should_analyse(s)]
    assert 0 < len(expected) < len(scored)
    audit = AuditWriter("analyse/0", kafka, serde, signer=TEST_SIGNER, topic=topic_prefix + AUDIT.name)
    audit.start()
    worker = SinkWorker(kafka, serde, AnalysisSink(service, topic_prefix=topic_prefix, audit=audit),
                        SinkOptions(group_id=unique_name("g"), dlq_topic=topic_prefix + "prisma.dlq"))

    async def run() -> list[object]:
        task = asyncio.create_task(worker.run_async())
        messages: list[object] = []
        for _ in range(300):
            await asyncio.sleep(0.2)
            messages = await asyncio.to_thread(read_topic, kafka, topic_prefix + ANALYSES.name, settle_s=0.3,
                                               timeout_s=5)
            if len(messages) >= len(expected):
                break
        worker.stop()
        await task
        return messages

    messages = asyncio.run(run())
    analyses = [serde.decode(m.value(), Analysis, topic=topic_prefix + ANALYSES.name) for m in messages]  # type: ignore[attr-defined]
    assert sorted(a.alert_id for a in analyses) == sorted(s.alert.alert_id for s in expected)
    assert all(a.analyser is Analyser.OFFLINE and a.summary.startswith("[Offline analysis") for a in analyses)
    assert all(a.input_hash and a.prompt_id for a in analyses)
    (report,) = verify_audit(kafka, serde, topic_prefix + AUDIT.name, keyring=TEST_KEYRING)
    assert report.report.ok and report.report.checked == len(analyses)
