"""Every schema survives a trip through a real Kafka broker, in both framings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from schemas import SCHEMA_NAMES
from streams.devtools.registry import LocalSchemaRegistry
from streams.serde import AvroSerde, SerdeSettings
from streams.settings import KafkaSettings, SchemaRegistrySettings
from tests.factories import FACTORIES
from tests.kafka_helpers import produce, read_topic

pytestmark = pytest.mark.broker


def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)


@pytest.mark.parametrize("framing", ["single-object", "confluent"])
def test_every_schema_round_trips_through_the_broker(
    kafka: KafkaSettings, unique_name: Callable[[str], str], framing: str
) -> None:
    # Confluent framing uses confluent-kafka's in-memory registry here; the real registry is
    # exercised by the registry launcher's own tests.
    registry = (
        SchemaRegistryClient.new_client({"url": f"mock://{unique_name('sr')}"}) if framing == "confluent" else None
    )
    serde = AvroSerde(SerdeSettings(registry=SchemaRegistrySettings(auto_register=True)), registry=registry)
    topic = unique_name("serde")
    _create_topic(kafka.bootstrap_servers, topic)
    records = {name: FACTORIES[name]() for name in SCHEMA_NAMES}

    produce(kafka, topic, [(name.encode(), serde.encode(record, topic=topic)) for name, record in records.items()])
    messages = read_topic(kafka, topic, expect=len(records), settle_s=0, timeout_s=60)

    assert [m.key() for m in messages] == [name.encode() for name in SCHEMA_NAMES]
    for message in messages:
        name = (message.key() or b"").decode()
        value = message.value()
        assert value is not None
        model = type(records[name])
        assert serde.decode(value, model, topic=topic) == records[name]


def test_every_schema_round_trips_through_the_broker_with_a_real_schema_registry(
    kafka: KafkaSettings, schema_registry: LocalSchemaRegistry, unique_name: Callable[[str], str]
) -> None:
    """Confluent wire format against a running Apicurio registry: schemas are registered under
    ``<topic>-value`` (one topic per record type, as in the pipeline) and decoded by a second serde
    that knows nothing but the registry's answers."""
    records = {name: FACTORIES[name]() for name in SCHEMA_NAMES}
    topics = {name: unique_name(name.lower()) for name in SCHEMA_NAMES}
    for topic in topics.values():
        _create_topic(kafka.bootstrap_servers, topic)
    settings = SerdeSettings(registry=SchemaRegistrySettings(url=schema_registry.url, auto_register=True))
    with AvroSerde(settings) as writer:
        for name, record in records.items():
            data = writer.encode(record, topic=topics[name])
            assert data[0] == 0  # Confluent magic byte, then the registry's schema id
            produce(kafka, topics[name], [(name.encode(), data)])
    with AvroSerde(SerdeSettings(registry=SchemaRegistrySettings(url=schema_registry.url))) as reader:
        for name, record in records.items():
            (message,) = read_topic(kafka, topics[name], expect=1, settle_s=0, timeout_s=60)
            value = message.value()
            assert value is not None
            assert reader.decode(value, type(record), topic=topics[name]) == record
    with SchemaRegistryClient({"url": schema_registry.url}) as client:
        subjects = set(client.get_subjects())
    assert {f"{topic}-value" for topic in topics.values()} <= subjects
