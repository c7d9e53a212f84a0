"""The ports: what the stream layer offers the connectors, and what it asks of them.

One small module both sides import, so that ``connectors/`` never imports ``streams/`` (an
import-linter contract in ``pyproject.toml`` holds it) while ``streams/`` drives the connectors::

    connectors/<system>/ (speaks the ports)          streams/ (Kafka; implements or drives them)
    ─────────────────────────────────────            ───────────────────────────────────────────
    webhook receiver, pollers ── RecordPublisher ──► AsyncPublisher (one transaction per request)
    pollers ──────────────────── PageWriter ───────► KafkaPageWriter (page + checkpoint, atomically)
                                 CheckpointStore ──► KafkaCheckpointStore (compacted topic)
    Jira, ServiceNow ◄────────── TrackerAdapter ──── TicketSink
    Splunk HEC, syslog ◄──────── EventForwarder ──── SiemForwardSink
    Slack / Teams ◄───────────── Notifier ────────── ChatSink

The sink signals are the only errors a sink worker sorts by (it knows nothing of HTTP): adapters
translate their own errors into them at their boundary, ``raise ... from exc``::

    PrismaflowError                     (processors.errors)
    ├── PublishFailedError              the stream layer did not write; nothing of the batch is visible
    ├── SerializationError
    │   └── RecordsRejectedError        records of a batch can never be written; none of the batch was
    └── SinkSignal                      what a sink adapter tells the worker
        ├── TargetUnavailableError      back-pressure: down, busy or rate-limited; retry after N s
        ├── RecordRejectedError         this record is refused for good: dead-letter it, go on
        └── TargetUnusableError         no record can get through (credentials revoked): stop

Why in ``connectors/`` rather than ``processors/``: the ports describe I/O (a publisher, a store,
an outside system's adapter) and carry async signatures; ``processors/`` stays pure functions over
models, and ``connectors/`` is the layer below ``streams/`` that both sides already import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from processors.errors import PrismaflowError, SerializationError
from processors.models import ScoredAlert
from processors.records import Analysis, SiemEvent, Tracker
from processors.tickets import OPEN

__all__ = [
    "CheckpointStore",
    "EventForwarder",
    "ForwardResult",
    "Notification",
    "Notifier",
    "OutgoingRecord",
    "PageWriter",
    "PublishFailedError",
    "RecordPublisher",
    "RecordRejectedError",
    "RecordsRejectedError",
    "SinkSignal",
    "SourceCheckpoint",
    "TargetUnavailableError",
    "TargetUnusableError",
    "TicketRef",
    "TrackerAdapter",
]


# -- publishing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingRecord:
    """One record to write: topic, key, the pydantic record (None: a tombstone), optional headers,
    and an explicit partition where it must match another (changelogs follow their input)."""

    topic: str
    key: str | None
    value: BaseModel | None
    headers: Mapping[str, bytes] = field(default_factory=dict)
    partition: int | None = None


class PublishFailedError(PrismaflowError):
    """The stream layer did not write the batch (broker away, refused, timed out); none of it is
    visible, so writing it again later duplicates nothing."""


class RecordsRejectedError(SerializationError):
    """Records of a batch that can never be written (they do not encode, or are too large); none was.

    ``rejections`` maps each such record's index in the batch to the reason, so the writer's caller
    can dead-letter those records and write the batch again.
    """

    def __init__(self, rejections: dict[int, str]) -> None:
        self.rejections = dict(rejections)
        first = min(self.rejections) if self.rejections else -1
        super().__init__(
            f"{len(self.rejections)} records cannot be written; record {first}: {self.rejections.get(first, '')}")


class RecordPublisher(Protocol):
    """Writes a batch of records all or none (the webhook receiver writes one request per call).

    Raises :class:`RecordsRejectedError` before writing anything when some records can never be
    written, and :class:`PublishFailedError` when the write failed and nothing is visible.
    """

    async def send_many(self, records: list[OutgoingRecord]) -> list[Any]: ...


# -- poller checkpoints -------------------------------------------------------------------------


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
    """Writes one page of records and the checkpoint that accounts for it, atomically.

    Raises :class:`PublishFailedError` when neither was written (the poller fetches the page again).
    """

    async def write(self, records: Sequence[OutgoingRecord], checkpoint: SourceCheckpoint) -> None: ...


class CheckpointStore(Protocol):
    """Gives back the last committed checkpoint of a source."""

    def load(self, source: str) -> SourceCheckpoint | None: ...


# -- sink signals -------------------------------------------------------------------------------


class SinkSignal(PrismaflowError):
    """What a sink adapter tells the sink worker about a delivery that did not go through."""


class TargetUnavailableError(SinkSignal):
    """Back-pressure: the outside system is down, busy or rate-limiting. The worker pauses, waits
    ``retry_after_s`` (when the system said; else its own backoff) and delivers the batch again."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RecordRejectedError(SinkSignal):
    """The outside system refused this record for good; it goes to the dead-letter topic.

    The adapter raises it ``from`` its own error; the dead letter names that cause.
    """


class TargetUnusableError(SinkSignal):
    """No record can get through (credentials rejected, webhook revoked): the worker stops with
    its offsets uncommitted until the settings are fixed."""


# -- sink adapters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketRef:
    """A ticket in a tracker: its key, its link, and whether it is open or resolved."""

    key: str
    url: str
    status: str = OPEN


class TrackerAdapter(Protocol):
    """What the ticket sink needs from a tracker; each connector adapts its client to this.

    Raises :class:`TargetUnavailableError` when the tracker is unavailable; any other error refuses
    the record at hand (dead-lettered).
    """

    tracker: Tracker

    async def find(self, fingerprint: str) -> TicketRef | None: ...
    async def create(self, fingerprint: str, scored: ScoredAlert, analysis: Analysis | None) -> TicketRef: ...
    async def update(self, ref: TicketRef, scored: ScoredAlert, note: str) -> None: ...
    async def resolve(self, ref: TicketRef, note: str) -> None: ...
    async def reopen(self, ref: TicketRef, note: str) -> TicketRef: ...
    async def add_analysis(self, ref: TicketRef, analysis: Analysis) -> None: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ForwardResult:
    """What became of a batch of SIEM events: how many were taken, and which were refused for good
    (position in the batch -> :class:`RecordRejectedError` naming the cause)."""

    sent: int
    rejected: Mapping[int, RecordRejectedError] = field(default_factory=dict)


class EventForwarder(Protocol):
    """Sends SIEM events to one outside SIEM (Splunk HEC, a syslog receiver).

    ``forward`` raises :class:`TargetUnavailableError` when the SIEM cannot take the batch now and
    :class:`TargetUnusableError` when it never will with these settings.
    """

    name: str

    async def forward(self, events: Sequence[SiemEvent]) -> ForwardResult: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Notification:
    """One chat notification: the risk, and the links its buttons lead to."""

    scored: ScoredAlert
    ticket_url: str | None = None
    ticket_key: str | None = None
    approval_url: str | None = None


class Notifier(Protocol):
    """Posts notifications to one chat channel (a Slack or Teams webhook).

    ``notify`` raises :class:`TargetUnavailableError` (pause), :class:`RecordRejectedError` (this
    notification is refused: dead-letter) or :class:`TargetUnusableError` (revoked: stop).
    """

    kind: str

    async def notify(self, notification: Notification) -> None: ...
    async def aclose(self) -> None: ...
