"""The bench knows when a stage has read its input to the end, even when a partition ends in markers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import TopicPartition

from streams.devtools.bench.group_offsets import GroupOffsets
from streams.group_progress import group_caught_up
from streams.kafka_clients import KafkaClients
from streams.settings import KafkaSettings
from tests.kafka_helpers import create_topic

pytestmark = [pytest.mark.broker]


def _commit(clients: KafkaClients, group: str, topic: str, offset: int) -> None:
    consumer = clients.consumer(group)
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_a_partition_ending_in_a_commit_and_an_abort_marker_is_drained_once_its_data_is_read(
        kafka: KafkaSettings, unique_name: Callable[[str], str]) -> None:
    clients, topic, group = KafkaClients(kafka), unique_name("in"), unique_name("group")
    create_topic(clients, topic)
    producer = clients.producer(**{"transactional.id": unique_name("tx")})
    producer.init_transactions(10)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"data", partition=0)  # offset 0, commit marker at 1
    producer.commit_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"aborted", partition=0)  # offset 2, abort marker at 3
    producer.flush(10)  # written, so the abort needs a marker (an unsent record is just purged)
    producer.abort_transaction(10)

    offsets = GroupOffsets(kafka.bootstrap_servers, group, topic)
    try:
        deadline = time.monotonic() + 30  # the coordinator writes the markers after the calls return
        while offsets.ends() != {0: 4} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert offsets.ends() == {0: 4}
        _commit(clients, group, topic, 0)
        assert not offsets.caught_up(offsets.committed())  # the data record at 0 is still unread
        _commit(clients, group, topic, 1)
        # Offset 1 against an end of 4: "committed >= end - 1" would wait forever here.
        assert offsets.committed() == {0: 1}
        assert offsets.caught_up(offsets.committed())
    finally:
        offsets.close()


def test_a_group_that_never_committed_is_behind_a_topic_with_data_and_caught_up_on_an_empty_one(
        kafka: KafkaSettings, unique_name: Callable[[str], str]) -> None:
    clients, full, empty, group = KafkaClients(kafka), unique_name("full"), unique_name("empty"), unique_name("g")
    create_topic(clients, full)
    create_topic(clients, empty)
    producer = clients.producer()
    producer.produce(full, key=b"k", value=b"data", partition=0)
    producer.flush(10)
    assert not group_caught_up(clients, group, [full, empty])
    assert group_caught_up(clients, group, [empty])
    _commit(clients, group, full, 1)
    assert group_caught_up(clients, group, [full, empty])
