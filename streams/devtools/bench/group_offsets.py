"""Where a consumer group stands on one topic, read from outside the group, and whether it is done
(see :mod:`streams.group_progress` for why "committed >= end - 1" is not the test)."""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.devtools.bench.traffic import bench_clients
from streams.group_progress import group_caught_up

__all__ = ["GroupOffsets"]


class GroupOffsets:
    """Committed offsets of a consumer group on one topic, and whether the group has read it all."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.topic, self.group = topic, group
        self._clients = bench_clients(bootstrap)
        # A consumer that never subscribes does not join the group: it only reads its offsets.
        self._consumer = self._clients.consumer(group)
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._tps = [TopicPartition(topic, p) for p in sorted(partitions)]

    def committed(self) -> dict[int, int]:
        for attempt in range(20):
            try:
                return {tp.partition: max(tp.offset, 0) for tp in self._consumer.committed(self._tps, timeout=10)}
            except KafkaException as exc:
                # NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS while a fresh group's coordinator loads.
                error = exc.args[0]
                coordinator = error.code() in (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                                               KafkaError.COORDINATOR_NOT_AVAILABLE)
                if not (coordinator or error.retriable()) or attempt == 19:
                    raise
                time.sleep(0.25)
        raise AssertionError("unreachable")

    def ends(self) -> dict[int, int]:
        return {tp.partition: self._consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in self._tps}

    def caught_up(self, committed: dict[int, int]) -> bool:
        """True when no partition has a committed data record at or after the group's offset
        (:func:`streams.group_progress.group_caught_up`)."""
        return group_caught_up(self._clients, self.group, [self.topic],
                               committed={(self.topic, p): offset for p, offset in committed.items()})

    def close(self) -> None:
        self._consumer.close()
