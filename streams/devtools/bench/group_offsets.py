"""Where a consumer group stands on one topic, read from outside the group, and whether it is done.

A transactional partition ends in control records (commit and abort markers) that take offsets
but are never delivered, so "committed == end offset" never holds and "committed >= end - 1"
fails when a partition ends in two markers in a row (a transaction that registered the partition
and was aborted, e.g. when a replacement producer fenced its predecessor). :meth:`caught_up` asks
the broker instead: is there a committed *data* record at or after the group's offset?
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.devtools.bench.traffic import bench_clients

__all__ = ["GroupOffsets"]

#: How long a peek at the partitions behind may take to see a record or their end.
_PEEK_TIMEOUT_S = 5.0


class GroupOffsets:
    """Committed offsets of a consumer group on one topic, and whether the group has read it all."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.topic = topic
        clients = bench_clients(bootstrap)
        # A consumer that never subscribes does not join the group: it only reads its offsets.
        self._consumer = clients.consumer(group)
        # A read_committed reader of its own group, assigned by hand: sees data records, not markers.
        self._peek = clients.reader("bench-peek", **{"enable.partition.eof": True})
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
        """True when no partition has a committed data record at or after the group's offset.

        A partition whose offset is at its end offset is drained; one short of it by control
        records only is too, which a read_committed peek from the offset shows: it reaches the
        partition's end (an EOF event) without a record. Undecided within the timeout: False.
        """
        ends = self.ends()
        behind = {p: committed.get(p, 0) for p, end in ends.items() if committed.get(p, 0) < end}
        if not behind:
            return True
        self._peek.assign([TopicPartition(self.topic, p, offset) for p, offset in behind.items()])
        try:
            undecided = set(behind)
            deadline = time.monotonic() + _PEEK_TIMEOUT_S
            while undecided and time.monotonic() < deadline:
                message = self._peek.poll(0.1)
                if message is None:
                    continue
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    undecided.discard(message.partition())
                elif error is None:
                    return False  # a data record the group has not committed past
            return not undecided
        finally:
            self._peek.unassign()

    def close(self) -> None:
        self._peek.close()
        self._consumer.close()
