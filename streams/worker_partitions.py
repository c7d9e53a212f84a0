"""The input partitions a stream worker holds, where it reads each, and the state that matches.

:class:`HeldPartitions` is the part of :class:`streams.worker.TransactionalWorker` that answers
the consumer's rebalance callbacks and keeps the stage's :class:`~streams.state_store.StateStore`
in step with the input offsets:

* a partition assigned is restored from its changelog before its first record is handled (the
  read waits out a broker outage, logging once per interval);
* a partition revoked or lost is dropped with its state;
* after an aborted transaction the worker :meth:`~HeldPartitions.rewind`\\ s: seeks back to the
  batch's first offsets and restores those partitions' state from the committed changelog, which
  matches exactly the committed offsets it seeks back to.

:func:`first_offsets` and :func:`next_offsets` say where a batch starts (to seek back to) and
where it ends (the offsets committed in its transaction).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from streams import metrics
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.outage import OutageLog, Stopping
from streams.state_store import StateStore
from streams.topic_reader import read_to_end

__all__ = ["HeldPartitions", "first_offsets", "next_offsets"]

log = logging.getLogger(__name__)


class HeldPartitions:
    """The partitions of one worker's input topic that its consumer holds now, with their state."""

    def __init__(self, clients: KafkaClients, consumer: Any, stage: str, state: StateStore | None,
                 stop: threading.Event) -> None:
        self.clients, self.consumer, self.stage, self.state = clients, consumer, stage, state
        self.held: set[int] = set()
        #: The group gave this worker an assignment (readiness); partitions are being restored now.
        self.joined = False
        self.restoring = False
        self._stop = stop
        self._restore_outage = OutageLog(log, f"restore {stage}")

    def __contains__(self, partition: object) -> bool:
        return partition in self.held

    # -- the consumer's rebalance callbacks --------------------------------------------------------
    def on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.joined = self.restoring = True
        try:
            for tp in partitions:
                self._restore(tp.partition)
                self.held.add(tp.partition)
        finally:
            self.restoring = False
        log.info("assigned stage=%s partitions=%s", self.stage, sorted(self.held))

    def on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            if self.state is not None:
                self.state.drop(tp.partition)
            self.held.discard(tp.partition)
        log.info("revoked stage=%s partitions=%s", self.stage, [tp.partition for tp in partitions])

    # -- state --------------------------------------------------------------------------------------
    def restore(self, partitions: set[int]) -> None:
        """Drop the state of ``partitions`` (uncommitted changes included) and read it back from the
        committed changelog."""
        if self.state is None:
            return
        for partition in sorted(partitions & self.held):
            self.state.drop(partition)
            self._restore(partition)

    def rewind(self, offsets: dict[tuple[str, int], int]) -> None:
        """Seek back to the first unprocessed offsets and restore the state that matches them."""
        for (topic, partition), offset in offsets.items():
            if partition not in self.held:
                continue
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                # Not being fetched (yet): assigning it again at the offset sets the position.
                log.debug("seek failed, re-assigning stage=%s partition=%d error=%s", self.stage, partition, exc)
                self.consumer.incremental_unassign([TopicPartition(topic, partition)])
                self.consumer.incremental_assign([TopicPartition(topic, partition, offset)])
        self.restore({partition for (_, partition) in offsets})

    def _restore(self, partition: int) -> None:
        """Restore one partition's state from its changelog, waiting out a broker outage."""
        state = self.state
        if state is None:
            return
        while True:
            changelog = ((message.key() or b"", message.value()) for message in read_to_end(
                self.clients, state.changelog_topic, partitions=[partition], purpose="restore"))
            try:
                state.restore(partition, changelog)
                self._restore_outage.recovered()
                return
            except BrokerError as exc:
                self._restore_outage.failing(exc)
                if self._stop.wait(1.0):
                    raise Stopping(f"stopped while restoring partition {partition}") from exc

    def report_lag(self) -> None:
        """Set the consumer-lag gauge of each held partition (best effort, from cached watermarks)."""
        try:
            for tp in self.consumer.position(self.consumer.assignment()):
                _, high = self.consumer.get_watermark_offsets(tp, timeout=1, cached=True)
                if tp.offset >= 0 and high >= 0:
                    metrics.CONSUMER_LAG.labels(partition=str(tp.partition), stage=self.stage).set(high - tp.offset)
        except Exception:  # noqa: BLE001 - lag is best effort
            log.debug("lag report failed", exc_info=True)


def first_offsets(batch: Sequence[Any]) -> dict[tuple[str, int], int]:
    """The offset of each partition's first record in ``batch``: where to seek back to on abort."""
    first: dict[tuple[str, int], int] = {}
    for message in batch:
        first.setdefault((message.topic(), message.partition()), message.offset())
    return first


def next_offsets(batch: Sequence[Any]) -> list[Any]:
    """The offsets to commit for ``batch``: one past each partition's last record."""
    last: dict[tuple[str, int], int] = {}
    for message in batch:
        last[(message.topic(), message.partition())] = message.offset()
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]
