"""A topic moving from no registry to a registry: the real core stage reads both framings on one
topic, and writes the Confluent wire format; a producer whose schema is not registered stops."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from connectors.prisma.simulator.traffic import raw_alert_stream
from processors.errors import ConfigurationError
from processors.models import ScoredAlert
from processors.pipeline import raw_alert_key
from processors.records import DeadLetter
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.devtools.registry import LocalSchemaRegistry
from streams.embedded import ThreadedWorker
from streams.serde import CONFLUENT_MAGIC, SINGLE_OBJECT_MARKER, AvroSerde, SerdeSettings
from streams.settings import KafkaSettings, SchemaRegistrySettings
from streams.topics import DLQ, RAW_ALERTS, SCORED_ALERTS
from tests.kafka_helpers import produce_models, read_topic
from tests.streams.test_core_pipeline import _expected

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _core(kafka: KafkaSettings, registry: SchemaRegistrySettings, catalogue: str, serde: AvroSerde) -> ThreadedWorker:
    worker = WorkerSettings(topic_prefix=catalogue, instance_id="0", group_prefix=catalogue + "g", max_batch=200)
    return ThreadedWorker("core", PrismaflowSettings(kafka=kafka, schema_registry=registry, worker=worker), serde)


def test_the_core_stage_reads_a_raw_topic_holding_both_framings_and_writes_the_confluent_one(
    kafka: KafkaSettings, catalogue_registry: SchemaRegistrySettings, catalogue: str
) -> None:
    records = list(raw_alert_stream(400, seed=23, now=datetime(2026, 11, 26, 12, tzinfo=UTC)))
    expected, expected_dead = _expected(records)
    raw_topic, scored_topic = catalogue + RAW_ALERTS.name, catalogue + SCORED_ALERTS.name
    half = len(records) // 2
    # Before the migration, without a registry; after it, through the registry.
    produce_models(kafka, AvroSerde(), raw_topic, ((raw_alert_key(r), r) for r in records[:half]))
    with AvroSerde(SerdeSettings(registry=catalogue_registry)) as serde:
        produce_models(kafka, serde, raw_topic, ((raw_alert_key(r), r) for r in records[half:]))
        raw = read_topic(kafka, raw_topic, expect=len(records), settle_s=0)
        assert Counter(m.value()[:2] == SINGLE_OBJECT_MARKER for m in raw) == {True: half, False: len(records) - half}

        worker = _core(kafka, catalogue_registry, catalogue, serde)
        try:
            scored_messages = read_topic(kafka, scored_topic, expect=sum(expected.values()))
            dead_messages = read_topic(kafka, catalogue + DLQ.name, expect=expected_dead)
        finally:
            worker.stop()
        scored = [serde.decode(m.value(), ScoredAlert, topic=scored_topic) for m in scored_messages]
        letters = [serde.decode(m.value(), DeadLetter, topic=catalogue + DLQ.name) for m in dead_messages]

    assert all(m.value()[0] == CONFLUENT_MAGIC for m in scored_messages + dead_messages)
    # Every alert of both halves scored as the pure pipeline says; dead letters are only its noise.
    assert Counter(s.alert.alert_id for s in scored if not s.incident_update) == expected
    assert len(letters) == expected_dead
    assert not [d for d in letters if "framing" in d.error_message or "fingerprint" in d.error_message]


def test_a_stage_whose_schemas_are_not_registered_stops_and_dead_letters_nothing(
    kafka: KafkaSettings, schema_registry: LocalSchemaRegistry, catalogue: str
) -> None:
    records = list(raw_alert_stream(20, seed=3, now=datetime(2026, 11, 26, 12, tzinfo=UTC)))
    produce_models(kafka, AvroSerde(), catalogue + RAW_ALERTS.name, ((raw_alert_key(r), r) for r in records))
    registry = SchemaRegistrySettings(url=schema_registry.url)  # auto_register off, nothing registered

    with AvroSerde(SerdeSettings(registry=registry)) as serde:
        worker = _core(kafka, registry, catalogue, serde)
        worker.thread.join(90)
        assert not worker.thread.is_alive()
        with pytest.raises(ConfigurationError, match="prismaflow schemas register"):
            worker.stop()

    assert read_topic(kafka, catalogue + DLQ.name, settle_s=2, timeout_s=10) == []
    assert read_topic(kafka, catalogue + SCORED_ALERTS.name, settle_s=0, timeout_s=5) == []
