"""Every schema survives a trip through a real Kafka broker, in both framings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient

from schemas import SCHEMA_NAMES
from streams.devtools.registry import LocalSchemaRegistry
from streams.serde import AvroSerde, SerdeSettings
from tests.factories import FACTORIES

pytestmark = pytest.mark.broker


def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert failures == []


def _consume(bootstrap: str, topic: str, group: str, count: int) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[Message] = []
    try:
        for _ in range(120):
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            received.append(message)
            if len(received) == count:
                break
    finally:
        consumer.close()
    return received


@pytest.mark.parametrize("framing", ["single-object", "confluent"])
def test_every_schema_round_trips_through_the_broker(
    kafka_bootstrap: str, unique_name: Callable[[str], str], framing: str
) -> None:
    # Confluent framing uses confluent-kafka's in-memory registry here; the real registry is
    # exercised by the registry launcher's own tests.
    registry = (
        SchemaRegistryClient.new_client({"url": f"mock://{unique_name('sr')}"}) if framing == "confluent" else None
    )
    serde = AvroSerde(SerdeSettings(), registry=registry)
    topic = unique_name("serde")
    _create_topic(kafka_bootstrap, topic)
    records = {name: FACTORIES[name]() for name in SCHEMA_NAMES}

    _produce(
        kafka_bootstrap, topic, [(name.encode(), serde.encode(record, topic=topic)) for name, record in records.items()]
    )
    messages = _consume(kafka_bootstrap, topic, unique_name("group"), len(records))

    assert [m.key() for m in messages] == [name.encode() for name in SCHEMA_NAMES]
    for message in messages:
        name = (message.key() or b"").decode()
        value = message.value()
        assert value is not None
        model = type(records[name])
        assert serde.decode(value, model, topic=topic) == records[name]


def test_every_schema_round_trips_through_the_broker_with_a_real_schema_registry(
    kafka_bootstrap: str, schema_registry: LocalSchemaRegistry, unique_name: Callable[[str], str]
) -> None:
    """Confluent wire format against a running Apicurio registry: schemas are registered under
    ``<topic>-value`` (one topic per record type, as in the pipeline) and decoded by a second serde
    that knows nothing but the registry's answers."""
    records = {name: FACTORIES[name]() for name in SCHEMA_NAMES}
    topics = {name: unique_name(name.lower()) for name in SCHEMA_NAMES}
    for topic in topics.values():
        _create_topic(kafka_bootstrap, topic)
    with AvroSerde(SerdeSettings(schema_registry_url=schema_registry.url)) as writer:
        for name, record in records.items():
            data = writer.encode(record, topic=topics[name])
            assert data[0] == 0  # Confluent magic byte, then the registry's schema id
            _produce(kafka_bootstrap, topics[name], [(name.encode(), data)])
    with AvroSerde(SerdeSettings(schema_registry_url=schema_registry.url)) as reader:
        for name, record in records.items():
            (message,) = _consume(kafka_bootstrap, topics[name], unique_name("group"), 1)
            value = message.value()
            assert value is not None
            assert reader.decode(value, type(record), topic=topics[name]) == record
    with SchemaRegistryClient({"url": schema_registry.url}) as client:
        subjects = set(client.get_subjects())
    assert {f"{topic}-value" for topic in topics.values()} <= subjects
