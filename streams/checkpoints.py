"""The Kafka side of the pollers' checkpoint ports (:class:`~connectors.ports.PageWriter`,
:class:`~connectors.ports.CheckpointStore`).

A checkpoint (:class:`~connectors.ports.SourceCheckpoint`) is written in the same Kafka transaction
as the page of alerts it accounts for (see :class:`KafkaPageWriter`), on the compacted topic
``prisma.source.checkpoints`` keyed by source name. A restarted poller reads the last committed
checkpoint and resumes: inside the window it was paging through (from the next page token or
offset), or with a new window after its watermark.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

from connectors.ports import OutgoingRecord, PublishFailedError, SourceCheckpoint
from streams.errors import BrokerError
from streams.publish import TransactionalPublisher
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topic_reader import read_compacted
from streams.topics import SOURCE_CHECKPOINTS

__all__ = ["KafkaPageWriter", "KafkaCheckpointStore"]

log = logging.getLogger(__name__)


class KafkaPageWriter:
    """Writes pages and checkpoints in one Kafka transaction each (see TransactionalPublisher).

    Every broker failure reaches the poller as the port's ``PublishFailedError``: the transaction
    aborted, nothing of the page is visible, and the checkpoint still points at it.
    """

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde, transactional_id: str,
                 *, checkpoint_topic: str = SOURCE_CHECKPOINTS.name, stop: threading.Event | None = None) -> None:
        self._publisher = TransactionalPublisher(kafka, serde, transactional_id, stop=stop)
        self._checkpoint_topic = checkpoint_topic

    async def write(self, records: Sequence[OutgoingRecord], checkpoint: SourceCheckpoint) -> None:
        batch = [*records, OutgoingRecord(self._checkpoint_topic, checkpoint.source, checkpoint)]
        try:
            await asyncio.to_thread(self._publisher.publish, batch)
        except PublishFailedError:
            raise
        except BrokerError as exc:
            raise PublishFailedError(f"page of {len(records)} records not written: {exc}") from exc

    def close(self) -> None:
        self._publisher.close()


class KafkaCheckpointStore:
    """Reads the compacted checkpoint topic to its end (committed records only)."""

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde,
                 *, checkpoint_topic: str = SOURCE_CHECKPOINTS.name) -> None:
        self._kafka = kafka
        self._serde = serde
        self._topic = checkpoint_topic

    def load(self, source: str) -> SourceCheckpoint | None:
        values = read_compacted(self._kafka, self._topic)
        data = values.get(source)
        if data is None:
            return None
        checkpoint = self._serde.decode(data, SourceCheckpoint, topic=self._topic)
        log.info("checkpoint loaded source=%s watermark=%s in_window=%s", source, checkpoint.watermark,
                 checkpoint.in_window)
        return checkpoint
