"""``prismaflow topics list`` shows what the broker holds: partitions, replication, configs, end
offsets and the lag of each consumer group, and marks the topics that are missing."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Consumer, TopicPartition

from streams.cli import main
from streams.kafka_clients import KafkaClients
from streams.settings import KafkaSettings
from streams.topics import CATALOGUE, DLQ, RAW_ALERTS, TICKETS, create_topics

pytestmark = pytest.mark.broker


@pytest.fixture
def deployment(kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", topic_prefix)
    return topic_prefix


def test_topics_list_shows_the_brokers_view_with_end_offsets_and_group_lag(
        deployment: str, kafka: KafkaSettings, capsys: pytest.CaptureFixture[str]) -> None:
    clients = KafkaClients(kafka)
    create_topics(clients.admin(), tuple(s for s in CATALOGUE if s is not DLQ), prefix=deployment)  # DLQ missing
    raw = deployment + RAW_ALERTS.name
    producer = clients.producer()
    for value in (b"1", b"2", b"3", b"4"):
        producer.produce(raw, key=b"asset-a", value=value, partition=0)
    assert producer.flush(30) == 0
    group = deployment + "core"
    committer = Consumer(clients.consumer_config(group))
    committer.commit(offsets=[TopicPartition(raw, 0, 1)], asynchronous=False)  # read 1 of 4: lag 3
    committer.close()

    assert main(["topics", "list", "--json"]) == 0
    views = {view["name"]: view for view in json.loads(capsys.readouterr().out)}
    assert set(views) == {deployment + s.name for s in CATALOGUE}
    assert views[deployment + DLQ.name]["exists"] is False
    assert views[raw] | {"end_offsets": None} == {
        "name": raw, "exists": True, "partitions": RAW_ALERTS.partitions, "replication": 1,
        "cleanup_policy": "delete", "retention_ms": str(RAW_ALERTS.retention_ms), "end_offset_total": 4,
        "end_offsets": None, "lag_by_group": {group: 3}}
    assert views[deployment + TICKETS.name]["cleanup_policy"] == "compact"

    assert main(["topics", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["TOPIC", "PARTS", "REPL", "CLEANUP", "RETENTION_MS", "END_OFFSETS"]
    raw_row = table.index(next(line for line in table if line.startswith(raw + " ")))
    assert table[raw_row].split() == [raw, str(RAW_ALERTS.partitions), "1", "delete", str(RAW_ALERTS.retention_ms), "4"]
    assert table[raw_row + 1].split() == ["group", group, "lag=3"]
    assert [deployment + DLQ.name, "MISSING", "(create", "it", "with:", "prismaflow", "topics", "create)"] in [
        line.split() for line in table]
