"""``prismaflow topics list``: the broker's view of every Prismaflow topic, not the catalogue's wish.

For each topic of the catalogue (under the topic prefix) it asks the broker whether the topic exists,
its partition count and replication factor, the configs operators check first (``cleanup.policy``,
``retention.ms``), the end offsets, and for every consumer group that committed offsets on it, the
group's lag (end offset minus committed offset, summed over the partitions the group committed on,
as ``kafka-consumer-groups --describe`` counts it). Missing topics are marked, not skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import ConfigResource, ResourceType  # type: ignore[attr-defined]

from streams.kafka_clients import KafkaClients
from streams.topic_reader import watermarks
from streams.topics import CATALOGUE, TopicSpec

__all__ = ["TopicView", "describe_topics", "render_table", "render_json"]

_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class TopicView:
    """One topic as the broker sees it; ``exists`` False leaves the other fields empty."""

    name: str
    exists: bool
    partitions: int = 0
    replication: int = 0
    cleanup_policy: str = ""
    retention_ms: str = ""
    end_offset_total: int = 0
    end_offsets: dict[int, int] = field(default_factory=dict)
    lag_by_group: dict[str, int] = field(default_factory=dict)


def describe_topics(clients: KafkaClients, prefix: str = "",
                    specs: Sequence[TopicSpec] = CATALOGUE) -> list[TopicView]:
    """The broker's view of ``specs`` under ``prefix``, in catalogue order."""
    admin = clients.admin()
    metadata = admin.list_topics(timeout=_TIMEOUT_S)
    names = [prefix + spec.name for spec in specs]
    present = [name for name in names if name in metadata.topics and metadata.topics[name].error is None]
    partitions = {name: sorted(metadata.topics[name].partitions) for name in present}
    ends = _end_offsets(clients, partitions)
    configs = _configs(admin, present)
    lags = _lags(admin, ends)
    views = []
    for name in names:
        if name not in partitions:
            views.append(TopicView(name, exists=False))
            continue
        first = metadata.topics[name].partitions[partitions[name][0]]
        topic_ends = {p: ends[(name, p)] for p in partitions[name]}
        views.append(TopicView(
            name, exists=True, partitions=len(partitions[name]), replication=len(first.replicas),
            cleanup_policy=configs[name].get("cleanup.policy", ""), retention_ms=configs[name].get("retention.ms", ""),
            end_offset_total=sum(topic_ends.values()), end_offsets=topic_ends, lag_by_group=lags.get(name, {})))
    return views


def _end_offsets(clients: KafkaClients, partitions: dict[str, list[int]]) -> dict[tuple[str, int], int]:
    """High watermarks, by a plain consumer (waiting out "not leader" just after a topic's creation)."""
    reader = clients.reader("topics-list")
    try:
        return {(name, p): watermarks(reader, name, p, _TIMEOUT_S)[1] for name, ps in partitions.items() for p in ps}
    finally:
        reader.close()


def _configs(admin: Any, names: list[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name) for name in names],
                                     request_timeout=_TIMEOUT_S)
    return {resource.name: {key: str(entry.value) for key, entry in future.result(timeout=_TIMEOUT_S).items()}
            for resource, future in futures.items()}


def _lags(admin: Any, ends: dict[tuple[str, int], int]) -> dict[str, dict[str, int]]:
    """Per topic, per consumer group with committed offsets on it: the summed lag."""
    listing = admin.list_consumer_groups(request_timeout=_TIMEOUT_S).result(timeout=_TIMEOUT_S)
    groups = sorted(g.group_id for g in listing.valid)
    # One request per group (the client's API takes one group at a time); all in flight together.
    futures = {group: admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                        request_timeout=_TIMEOUT_S)[group] for group in groups}
    lags: dict[str, dict[str, int]] = {}
    for group, future in futures.items():
        for tp in future.result(timeout=_TIMEOUT_S).topic_partitions or []:
            end = ends.get((tp.topic, tp.partition))
            if end is None or tp.offset < 0:
                continue
            by_group = lags.setdefault(tp.topic, {})
            by_group[group] = by_group.get(group, 0) + max(end - tp.offset, 0)
    return lags


def render_table(views: Sequence[TopicView]) -> str:
    """A plain table, one line per topic, then one indented line per consumer group reading it."""
    width = max((len(v.name) for v in views), default=5)
    lines = [f"{'TOPIC':{width}}  {'PARTS':>5}  {'REPL':>4}  {'CLEANUP':8}  {'RETENTION_MS':>13}  {'END_OFFSETS':>11}"]
    for view in views:
        if not view.exists:
            lines.append(f"{view.name:{width}}  MISSING (create it with: prismaflow topics create)")
            continue
        lines.append(f"{view.name:{width}}  {view.partitions:>5}  {view.replication:>4}  {view.cleanup_policy:8}  "
                     f"{view.retention_ms:>13}  {view.end_offset_total:>11}")
        for group, lag in sorted(view.lag_by_group.items()):
            lines.append(f"    group {group}  lag={lag}")
    return "\n".join(lines) + "\n"


def render_json(views: Sequence[TopicView]) -> str:
    """The same, as a JSON list (end offsets per partition included)."""
    return json.dumps([asdict(view) for view in views], indent=2) + "\n"
