"""The topic catalogue and `prismaflow topics create`: every topic exists with its configs, idempotently."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from streams.topics import ALERTS, CATALOGUE, RAW_ALERTS, SCORE_CHANGELOG, SOURCE_CHECKPOINTS, TICKETS, create_topics


def test_catalogue_names_are_unique_and_prefixed() -> None:
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    assert all(name.startswith("prisma.") for name in names)


def test_state_topics_are_compacted_and_keep_forever() -> None:
    for spec in (TICKETS, SOURCE_CHECKPOINTS):
        assert spec.configs()["cleanup.policy"] == "compact"
        assert spec.configs()["retention.ms"] == "-1"


@pytest.mark.broker
def test_create_topics_is_idempotent_and_applies_configs(kafka_bootstrap: str, topic_prefix: str) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    first = create_topics(admin, prefix=topic_prefix)
    assert set(first.created) == {topic_prefix + spec.name for spec in CATALOGUE}
    assert first.existing == ()

    second = create_topics(admin, prefix=topic_prefix)
    assert second.created == ()
    assert set(second.existing) == set(first.created)

    metadata = admin.list_topics(timeout=10)
    for spec in CATALOGUE:
        assert len(metadata.topics[topic_prefix + spec.name].partitions) == spec.partitions
    resource = ConfigResource("topic", topic_prefix + TICKETS.name)
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["cleanup.policy"].value == "compact"
    assert configs["compression.type"].value == TICKETS.compression


def test_the_score_changelog_has_a_partition_for_each_input_partition_of_either_topology() -> None:
    # State of input partition p is written to changelog partition p, by the fused stage (input
    # prisma.alerts.raw) and by the split score stage (input prisma.alerts).
    assert SCORE_CHANGELOG.partitions == RAW_ALERTS.partitions == ALERTS.partitions
