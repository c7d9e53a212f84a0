"""Reading a topic to its end: every committed record up to the end it had when the read began,
nothing of an aborted transaction, and a compacted topic folded into its last value per key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from streams.kafka_clients import KafkaClients
from streams.settings import KafkaSettings
from streams.topic_reader import end_offsets, read_compacted, read_to_end
from tests.kafka_helpers import create_topic

pytestmark = pytest.mark.broker


@pytest.fixture
def clients(kafka: KafkaSettings) -> KafkaClients:
    return KafkaClients(kafka)


def _write(clients: KafkaClients, topic: str, records: list[tuple[int, bytes, bytes | None]]) -> None:
    producer = clients.producer()
    for partition, key, value in records:
        producer.produce(topic, key=key, value=value, partition=partition)
    assert producer.flush(30) == 0


def test_every_partition_is_read_to_its_end_in_order(clients: KafkaClients, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("topic")
    create_topic(clients, topic, partitions=3)
    records = [(i % 3, f"k{i}".encode(), f"v{i}".encode()) for i in range(30)]
    _write(clients, topic, records)
    read = [(m.partition(), m.key(), m.value()) for m in read_to_end(clients, topic)]
    assert sorted(read) == sorted(records)
    for partition in range(3):
        assert [r for r in read if r[0] == partition] == [r for r in records if r[0] == partition]


def test_an_empty_topic_ends_at_once_and_one_partition_can_be_read_alone(
        clients: KafkaClients, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("topic")
    create_topic(clients, topic, partitions=2)
    assert list(read_to_end(clients, topic, timeout_s=10)) == []
    _write(clients, topic, [(0, b"a", b"0"), (1, b"b", b"1"), (1, b"c", b"2")])
    assert [m.value() for m in read_to_end(clients, topic, partitions=[1])] == [b"1", b"2"]


def test_records_of_an_aborted_transaction_are_not_read_and_the_commit_marker_ends_the_read(
        clients: KafkaClients, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("topic")
    create_topic(clients, topic)
    producer = clients.producer(**{"transactional.id": unique_name("tx")})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"aborted")
    assert producer.flush(30) == 0  # on the broker before the abort (an abort purges what was not sent)
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"committed")
    producer.commit_transaction(30)
    # aborted record, abort marker, committed record, commit marker: the end sits past a marker,
    # which is never delivered.
    probe = clients.reader("probe")
    try:
        assert end_offsets(probe, topic)[0] == 4
    finally:
        probe.close()
    assert [m.value() for m in read_to_end(clients, topic, timeout_s=20)] == [b"committed"]


def test_a_compacted_read_keeps_the_last_value_per_key_and_tombstones_remove_keys(
        clients: KafkaClients, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("topic")
    create_topic(clients, topic, partitions=2, compacted=True)
    _write(clients, topic, [(0, b"a", b"1"), (1, b"b", b"1"), (0, b"a", b"2"), (1, b"c", b"1"), (1, b"b", None)])
    assert read_compacted(clients, topic) == {"a": b"2", "c": b"1"}
