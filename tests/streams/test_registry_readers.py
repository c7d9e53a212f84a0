"""With the registry on, the topics the demo does not write (the split topology's `prisma.alerts`,
the SIEM stage's `prisma.siem.events`) are readable by confluent-kafka's own AvroDeserializer too,
as `kafka-avro-console-consumer` reads them (tests/test_demo.py covers the rest)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from connectors.prisma.simulator.traffic import raw_alert_stream
from processors.pipeline import raw_alert_key
from streams.compose import build_sink_worker
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.embedded import ThreadedSink, ThreadedWorker
from streams.serde import AvroSerde, SerdeSettings
from streams.settings import KafkaSettings, SchemaRegistrySettings
from streams.topics import ALERTS, RAW_ALERTS, SCORED_ALERTS, SIEM_EVENTS
from tests.kafka_helpers import produce_models, read_topic
from tests.streams.test_core_pipeline import _expected

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_the_split_stages_and_the_siem_stage_write_records_the_avro_deserializer_reads(
    kafka: KafkaSettings, catalogue_registry: SchemaRegistrySettings, catalogue: str
) -> None:
    records = list(raw_alert_stream(150, seed=41, now=datetime(2026, 11, 26, 12, tzinfo=UTC)))
    expected, _ = _expected(records)
    settings = PrismaflowSettings(kafka=kafka, schema_registry=catalogue_registry, worker=WorkerSettings(
        topic_prefix=catalogue, instance_id="0", group_prefix=catalogue + "g", max_batch=200))

    with AvroSerde(SerdeSettings(registry=catalogue_registry)) as serde:
        produce_models(kafka, serde, catalogue + RAW_ALERTS.name, ((raw_alert_key(r), r) for r in records))
        running = [ThreadedWorker("normalise", settings, serde), ThreadedWorker("score", settings, serde),
                   ThreadedSink(build_sink_worker("siem", settings, serde))]
        try:
            scored = read_topic(kafka, catalogue + SCORED_ALERTS.name, expect=sum(expected.values()))
            events = read_topic(kafka, catalogue + SIEM_EVENTS.name, expect=len(scored))
            alerts = read_topic(kafka, catalogue + ALERTS.name, expect=1, settle_s=0.5)
        finally:
            for part in running:
                part.stop()

    with SchemaRegistryClient(catalogue_registry.client_config()) as client:
        deserializer = AvroDeserializer(client)
        for topic, messages, fields in ((ALERTS, alerts, {"alert_id", "resource", "enrichment"}),
                                        (SCORED_ALERTS, scored, {"alert", "score", "tier"}),
                                        (SIEM_EVENTS, events, {"alert_id", "score"})):
            context = SerializationContext(catalogue + topic.name, MessageField.VALUE)
            values = [deserializer(m.value(), context) for m in messages]
            assert values and all(isinstance(v, dict) and fields <= v.keys() for v in values), topic.name
