"""Reading and writing Kafka topics in broker tests: the helpers every such test used to repeat.

:func:`read_topic` reads a topic from its beginning (all partitions assigned, no group to join)
until the expected records are in and nothing more came for a while, so a surplus (a duplicate)
shows up too; :func:`produce` and :func:`produce_models` write and wait for every acknowledgement.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import OFFSET_BEGINNING, KafkaError, Message, TopicPartition
from pydantic import BaseModel

from streams.kafka_clients import KafkaClients
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import TopicSpec, create_topics

__all__ = ["create_topic", "produce", "produce_models", "read_topic"]


def create_topic(clients: KafkaClients, name: str, *, partitions: int = 1, compacted: bool = False) -> None:
    """Create one topic outside the catalogue and wait until its partitions have leaders."""
    spec = TopicSpec(name=name, key="test", value_schema="bytes", doc="a test's own topic", partitions=partitions,
                     cleanup_policy="compact" if compacted else "delete")
    create_topics(clients.admin(), [spec])


def read_topic(kafka: KafkaSettings | str, topic: str, *, expect: int | None = None, settle_s: float = 3.0,
               timeout_s: float = 120.0, committed: bool = True) -> list[Message]:
    """The records of ``topic`` (on ``kafka``, settings or bootstrap servers) from its start: read until ``expect`` are in (any number when None)
    and nothing new came for ``settle_s``, or ``timeout_s`` passed.

    ``committed`` reads as a ``read_committed`` consumer does (what pipeline consumers see); False
    also shows records of open or aborted transactions.
    """
    settings = KafkaSettings(bootstrap_servers=kafka) if isinstance(kafka, str) else kafka
    consumer = KafkaClients(settings).reader(
        "test-reader", **{"isolation.level": "read_committed" if committed else "read_uncommitted"})
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    messages: list[Message] = []
    last = time.monotonic()
    deadline = last + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
                last = time.monotonic()
                continue
            if (expect is None or len(messages) >= expect) and time.monotonic() - last >= settle_s:
                break
    finally:
        consumer.close()
    return messages


def produce(kafka: KafkaSettings, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> None:
    """Write ``(key, value)`` pairs with an idempotent producer; every one must be acknowledged.

    Idempotent as the pipeline's producers are: a plain producer may reorder a partition's records
    when it retries (seen right after topic creation).
    """
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = KafkaClients(kafka).producer()
    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert failures == []


def produce_models(kafka: KafkaSettings, serde: AvroSerde, topic: str,
                   records: Iterable[tuple[str, BaseModel]]) -> None:
    """Write ``(key, record)`` pairs, each record Avro-encoded for ``topic``."""
    produce(kafka, topic, ((key.encode(), serde.encode(record, topic=topic)) for key, record in records))
