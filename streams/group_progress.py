"""Whether a consumer group has read its topics to the end, asked from outside the group.

A transactional partition ends in control records (commit and abort markers) that take offsets
but are never delivered, and a transactional stage commits the offset after its last *data*
record, so "committed == end offset" may never hold, and "committed >= end - 1" fails when a
partition ends in two markers (a commit, then an abort of a transaction that had registered the
partition). :func:`group_caught_up` asks the broker instead: is there a committed data record at
or after the group's offset? The demo waits on it before it counts what reached the trackers, and
the benchmark before it stops its clock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from confluent_kafka import KafkaError, TopicPartition

from streams.kafka_clients import KafkaClients

__all__ = ["group_caught_up"]


def group_caught_up(clients: KafkaClients, group: str, topics: Sequence[str], *, timeout_s: float = 5.0,
                    committed: dict[tuple[str, int], int] | None = None) -> bool:
    """True when no partition of ``topics`` has a committed data record at or after ``group``'s
    committed offset (given in ``committed``, else read from the broker).

    A partition at its end offset is drained; one short of it is drained when a read_committed peek
    from the offset reaches the partition's end (an EOF event) without a record. Undecided within
    ``timeout_s``: False.
    """
    offsets = clients.consumer(group)  # never subscribes: it reads the group's offsets, joins nothing
    try:
        partitions = [TopicPartition(topic, p) for topic in topics
                      for p in sorted(offsets.list_topics(topic, timeout=10).topics[topic].partitions)]
        ends = {(tp.topic, tp.partition): offsets.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions}
        if committed is None:
            committed = {(tp.topic, tp.partition): max(tp.offset, 0)
                         for tp in offsets.committed(partitions, timeout=10)}
    finally:
        offsets.close()
    behind = [TopicPartition(topic, p, committed.get((topic, p), 0)) for (topic, p), end in ends.items()
              if committed.get((topic, p), 0) < end]
    if not behind:
        return True
    peek = clients.reader("progress-peek", **{"enable.partition.eof": True})
    try:
        peek.assign(behind)
        undecided = {(tp.topic, tp.partition) for tp in behind}
        deadline = time.monotonic() + timeout_s
        while undecided and time.monotonic() < deadline:
            message = peek.poll(0.1)
            if message is None:
                continue
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                undecided.discard((message.topic(), message.partition()))
            elif error is None and message.offset() < ends[(message.topic(), message.partition())]:
                return False  # a data record the group has not committed past
        return not undecided
    finally:
        peek.close()
