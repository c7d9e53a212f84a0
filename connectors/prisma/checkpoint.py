"""Where a poller stands: the checkpoint it writes with every page, and where it keeps it.

A checkpoint is written in the same Kafka transaction as the page of alerts it accounts for (see
:class:`KafkaPageWriter`), on the compacted topic ``prisma.source.checkpoints`` keyed by source name.
A restarted poller reads the last committed checkpoint and resumes: inside the window it was
paging through (from the next page token or offset), or with a new window after its watermark.
"""

from __future__ import annotations

import asyncio
import threading
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from streams.publish import OutgoingRecord, TransactionalPublisher, read_compacted
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import SOURCE_CHECKPOINTS

__all__ = ["SourceCheckpoint", "PageWriter", "CheckpointStore", "KafkaPageWriter", "KafkaCheckpointStore"]

log = logging.getLogger(__name__)


class SourceCheckpoint(BaseModel):
    """A poller's progress. Key on ``prisma.source.checkpoints``: ``source``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="Poller name, e.g. cspm:default or compute:default")
    watermark: datetime | None = Field(default=None, description="End of the last completed window")
    window_start: datetime | None = Field(default=None, description="Start of the window being paged")
    window_end: datetime | None = Field(default=None, description="End of the window being paged")
    phase: str = Field(default="", description="Listing in progress (Compute: incidents, hosts, ...)")
    page_token: str | None = Field(default=None, description="Token of the next page to fetch")
    offset: int = Field(default=0, ge=0, description="Offset of the next page (limit/offset APIs)")
    pages_written: int = Field(default=0, ge=0, description="Pages written in this window")
    alerts_written: int = Field(default=0, ge=0, description="Alerts written in this window")
    updated_at: datetime = Field(description="When this checkpoint was written")

    @property
    def in_window(self) -> bool:
        return self.window_start is not None and self.window_end is not None


class PageWriter(Protocol):
    """Writes one page of records and the checkpoint that accounts for it, atomically."""

    async def write(self, records: Sequence[OutgoingRecord], checkpoint: SourceCheckpoint) -> None: ...


class CheckpointStore(Protocol):
    """Gives back the last committed checkpoint of a source."""

    def load(self, source: str) -> SourceCheckpoint | None: ...


class KafkaPageWriter:
    """Writes pages and checkpoints in one Kafka transaction each (see TransactionalPublisher)."""

    def __init__(self, kafka: KafkaSettings, serde: AvroSerde, transactional_id: str,
                 *, checkpoint_topic: str = SOURCE_CHECKPOINTS.name, stop: threading.Event | None = None) -> None:
        self._publisher = TransactionalPublisher(kafka, serde, transactional_id, stop=stop)
        self._checkpoint_topic = checkpoint_topic

    async def write(self, records: Sequence[OutgoingRecord], checkpoint: SourceCheckpoint) -> None:
        batch = [*records, OutgoingRecord(self._checkpoint_topic, checkpoint.source, checkpoint)]
        await asyncio.to_thread(self._publisher.publish, batch)

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
