"""The Prisma Cloud pollers: CSPM ``/v2/alert`` and the Compute API, into ``prisma.alerts.raw``.

Each poll covers a *window* of time. The CSPM poller asks for every alert *updated* in
``[watermark - look_back, now]`` (filter ``timeRange.type = ALERT_UPDATED``, all statuses), so new
alerts and status changes (open → resolved, dismissed, reopened) are both captured; the look-back
re-reads alerts that changed while the previous window was being paged, and downstream dedupe
absorbs those re-reads. The Compute poller lists incidents and runtime audits in the same kind of
window, then the host and image scan results (a full listing: scan results change in place).

Every record goes through the edge's text rule (:func:`processors.sanitise.admit_raw_alert`): lone
surrogates in free text become U+FFFD; a record with a bad id or key, no id at all, a ``NaN`` or
``Infinity`` in its payload, or a payload nested too deep is dead-lettered with the reason, in the same
transaction as the page, and the poll goes on.

After every page the poller writes the page's raw alerts *and* its checkpoint (window, next page
token or offset) in one Kafka transaction. A restart or crash therefore resumes at the first page
not written: nothing is skipped, and nothing already written is written again, unless the API no
longer accepts the saved page token (then the window is paged again from its start).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from prometheus_client import Counter, Gauge, Histogram

from connectors.base import BadRequestError, ConnectorError
from connectors.ports import CheckpointStore, OutgoingRecord, PageWriter, PublishFailedError, SourceCheckpoint
from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.models import AlertFilter, TimeRange
from connectors.prisma.settings import PollerSettings
from processors.dead_letters import build_dead_letter, excerpt
from processors.errors import InvalidRecordError
from processors.models import AlertSource
from processors.normalise.compute import compute_alert_id
from processors.pipeline import raw_alert_key
from processors.sanitise import REPLACED_CHARACTERS_HEADER, admit_raw_alert
__all__ = ["CspmPoller", "ComputePoller", "PollResult"]

log = logging.getLogger(__name__)

POLLS = Counter("prismaflow_source_polls_total", "Completed or failed poll windows", ["source", "outcome"])
PAGES = Counter("prismaflow_source_pages_total", "Pages fetched and written", ["source"])
ALERTS_WRITTEN = Counter("prismaflow_source_alerts_written_total", "Raw alerts written", ["source"])
ERRORS = Counter("prismaflow_source_errors_total", "Poll errors by kind", ["source", "kind"])
DEAD_LETTERED = Counter("prismaflow_source_dead_letters_total", "Records refused at the edge and dead-lettered", ["source"])
REPLACED = Counter("prismaflow_source_replaced_characters_total",
                   "Lone surrogates replaced by U+FFFD in the payloads of written alerts", ["source"])
CHECKPOINT_LAG = Gauge(
    "prismaflow_source_checkpoint_lag_seconds", "Age of the watermark: how far behind now the source is", ["source"])
REQUEST_SECONDS = Histogram(
    "prismaflow_source_page_seconds", "Time to fetch one page from the API", ["source"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))





_DLQ_EXCERPT_BYTES = 64 * 1024


def _admit(settings: PollerSettings, name: str, source: AlertSource, alert_id: object, payload: object,
           now: datetime, *, problem: str | None = None) -> OutgoingRecord:
    """The raw alert for one API record keyed by its canonical asset id, or its dead letter with the reason.

    ``problem`` (a reason found before, e.g. no id) dead-letters the record as is. The payload is
    written with sorted keys, as the pollers always wrote it.
    """
    try:
        if problem is not None:
            raise InvalidRecordError(problem)
        admitted = admit_raw_alert(source=source, alert_id=alert_id, payload=payload, tenant=settings.tenant,
                                   received_at=now, ingest_id=str(uuid.uuid4()), key=raw_alert_key, sort_keys=True)
    except InvalidRecordError as exc:
        DEAD_LETTERED.labels(name).inc()
        original, note = excerpt(json.dumps(payload, separators=(",", ":"), default=repr).encode(), _DLQ_EXCERPT_BYTES)
        letter = build_dead_letter(stage=f"poller.{name}", error=f"{source.value} record: {exc.reason}{note}",
                                   original_topic=f"{source.value}:{name}", original_value=original, failed_at=now)
        log.warning("dead-lettered source=%s reason=%s", name, letter.record.error_message[:200])
        return OutgoingRecord(settings.dlq_topic, letter.key, letter.record, letter.headers)
    REPLACED.labels(name).inc(admitted.replaced_characters)
    headers = ({REPLACED_CHARACTERS_HEADER: str(admitted.replaced_characters).encode()}
               if admitted.replaced_characters else {})
    return OutgoingRecord(settings.raw_topic, admitted.key, admitted.raw, headers)


def _alerts_in(records: Sequence[OutgoingRecord], settings: PollerSettings) -> int:
    return sum(1 for record in records if record.topic == settings.raw_topic)


class PollResult:
    """What one poll window did."""

    __slots__ = ("pages", "alerts", "resumed")

    def __init__(self) -> None:
        self.pages = 0
        self.alerts = 0
        self.resumed = False

    def __repr__(self) -> str:
        return f"PollResult(pages={self.pages}, alerts={self.alerts}, resumed={self.resumed})"


class _Poller:
    """The window and checkpoint logic both pollers share."""

    source_kind: ClassVar[str] = ""

    def __init__(self, settings: PollerSettings, writer: PageWriter, store: CheckpointStore,
                 *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.writer = writer
        self.store = store
        self.clock = clock
        self.name = f"{self.source_kind}:{settings.tenant}"
        self._checkpoint: SourceCheckpoint | None = None
        self._loaded = False

    def checkpoint(self) -> SourceCheckpoint | None:
        if not self._loaded:
            self._checkpoint = self.store.load(self.name)
            self._loaded = True
        return self._checkpoint

    def _next_window(self) -> tuple[datetime, datetime]:
        now = self.clock()
        current = self.checkpoint()
        if current is not None and current.watermark is not None:
            start = current.watermark - timedelta(seconds=self.settings.look_back_s)
        else:
            start = now - timedelta(seconds=self.settings.initial_look_back_s)
        return start, now

    async def _timed(self, pages: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """``pages``, the wait for each one observed in ``prismaflow_source_page_seconds``."""
        iterator = pages.__aiter__()
        while True:
            fetched = time.perf_counter()
            try:
                page = await iterator.__anext__()
            except StopAsyncIteration:
                return
            REQUEST_SECONDS.labels(self.name).observe(time.perf_counter() - fetched)
            yield page

    async def _commit(self, records: Sequence[OutgoingRecord], checkpoint: SourceCheckpoint) -> None:
        await self.writer.write(records, checkpoint)
        self._checkpoint = checkpoint
        PAGES.labels(self.name).inc()
        ALERTS_WRITTEN.labels(self.name).inc(_alerts_in(records, self.settings))

    async def _finish_window(self, end: datetime) -> None:
        done = SourceCheckpoint(source=self.name, watermark=end, updated_at=self.clock())
        await self._commit([], done)
        CHECKPOINT_LAG.labels(self.name).set(max(0.0, (self.clock() - end).total_seconds()))

    async def poll_once(self) -> PollResult:
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every ``interval_s`` until ``stop`` is set; errors are logged, counted and retried."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = await self.poll_once()
                POLLS.labels(self.name, "ok").inc()
                log.info("poll done source=%s pages=%d alerts=%d resumed=%s", self.name, result.pages,
                         result.alerts, result.resumed)
            except ConnectorError as exc:
                POLLS.labels(self.name, "error").inc()
                ERRORS.labels(self.name, type(exc).__name__).inc()
                log.error("poll failed source=%s error=%s", self.name, exc)
            except PublishFailedError as exc:
                if stop.is_set():
                    return
                # The page was not written (its transaction aborted): the checkpoint still points
                # at it, so the next poll fetches it again. Nothing is skipped.
                POLLS.labels(self.name, "error").inc()
                ERRORS.labels(self.name, "broker").inc()
                log.error("poll could not write to Kafka source=%s error=%s; retrying next interval", self.name, exc)
            wait = max(0.0, self.settings.interval_s - (time.monotonic() - started))
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass


class CspmPoller(_Poller):
    """Polls CSPM ``POST /v2/alert`` into raw alerts, checkpointing after every page."""

    source_kind = "cspm"

    def __init__(self, settings: PollerSettings, client: CspmClient, writer: PageWriter,
                 store: CheckpointStore, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(settings, writer, store, clock=clock)
        self.client = client

    async def poll_once(self) -> PollResult:
        """Page through one window to its end (resuming a window a restart interrupted)."""
        result = PollResult()
        current = self.checkpoint()
        if current is not None and current.in_window:
            assert current.window_start is not None and current.window_end is not None
            start, end, token = current.window_start, current.window_end, current.page_token
            result.resumed = True
        else:
            (start, end), token = self._next_window(), None
        window = TimeRange.absolute(int(start.timestamp() * 1000), int(end.timestamp() * 1000))
        filters = [AlertFilter(name="timeRange.type", value="ALERT_UPDATED")]
        try:
            await self._page_through(start, end, window, filters, token, result)
        except BadRequestError as exc:
            if token is None:
                raise
            # The saved token expired: page the window again from its start (re-reads are expected).
            log.warning("page token refused, restarting window source=%s error=%s", self.name, exc)
            ERRORS.labels(self.name, "page_token_expired").inc()
            await self._page_through(start, end, window, filters, None, result)
        await self._finish_window(end)
        return result

    def _admit_cspm(self, item: object, now: datetime) -> OutgoingRecord:
        if not isinstance(item, dict):
            return _admit(self.settings, self.name, AlertSource.CSPM_API, None, item, now,
                          problem=f"expected a JSON object, got {type(item).__name__}")
        alert_id = item.get("id")
        if isinstance(alert_id, int) and not isinstance(alert_id, bool):
            alert_id = str(alert_id)
        problem = "record has no id" if alert_id is None else None
        return _admit(self.settings, self.name, AlertSource.CSPM_API, alert_id, item, now, problem=problem)

    async def _page_through(self, start: datetime, end: datetime, window: TimeRange,
                            filters: list[AlertFilter], token: str | None, result: PollResult) -> None:
        async for page in self._timed(self.client.iter_alert_pages(filters, window, detailed=True,
                                                                    page_token=token)):
            now = self.clock()
            records = [self._admit_cspm(item, now) for item in page.items]
            alerts = _alerts_in(records, self.settings)
            previous = self._checkpoint if self._checkpoint and self._checkpoint.in_window else None
            checkpoint = SourceCheckpoint(
                source=self.name, watermark=self._checkpoint.watermark if self._checkpoint else None,
                window_start=start, window_end=end, page_token=page.next_page_token,
                pages_written=(previous.pages_written if previous else 0) + 1,
                alerts_written=(previous.alerts_written if previous else 0) + alerts,
                updated_at=now,
            )
            await self._commit(records, checkpoint)
            result.pages += 1
            result.alerts += alerts
            if page.next_page_token is None:
                return


_COMPUTE_PHASES: tuple[str, ...] = ("incidents", "runtime_container", "runtime_host", "hosts", "images")
_PHASE_KIND = {"incidents": "incident", "runtime_container": "runtime_audit", "runtime_host": "runtime_audit",
               "hosts": "host_scan", "images": "image_scan"}


class ComputePoller(_Poller):
    """Polls the Compute API (incidents, runtime audits, host and image scans) into raw alerts.

    Each record is written as the envelope ``{"kind": ..., "record": {...}}`` that
    :mod:`processors.normalise.compute` documents, keyed by its stable derived id.
    """

    source_kind = "compute"

    def __init__(self, settings: PollerSettings, client: ComputeClient, writer: PageWriter,
                 store: CheckpointStore, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(settings, writer, store, clock=clock)
        self.client = client

    def _pages(self, phase: str, start: datetime, end: datetime, offset: int) -> AsyncIterator[Any]:
        if phase == "incidents":
            params = {"from": _iso(start), "to": _iso(end)}
            return self.client.iter_pages("/audits/incidents", params, offset=offset)
        if phase.startswith("runtime_"):
            kind = phase.removeprefix("runtime_")
            return self.client.iter_pages(f"/audits/runtime/{kind}", {"from": _iso(start), "to": _iso(end)},
                                          offset=offset)
        return self.client.iter_pages(f"/{phase}", None, offset=offset)

    async def poll_once(self) -> PollResult:
        result = PollResult()
        current = self.checkpoint()
        if current is not None and current.in_window and current.phase in _COMPUTE_PHASES:
            assert current.window_start is not None and current.window_end is not None
            start, end = current.window_start, current.window_end
            phases = _COMPUTE_PHASES[_COMPUTE_PHASES.index(current.phase):]
            offset = current.offset
            result.resumed = True
        else:
            (start, end), phases, offset = self._next_window(), _COMPUTE_PHASES, 0
        for phase in phases:
            kind = _PHASE_KIND[phase]
            async for page in self._timed(self._pages(phase, start, end, offset)):
                now = self.clock()
                records = []
                for item in page.items:
                    envelope = {"kind": kind, "record": item}
                    alert_id, problem = None, None
                    try:
                        alert_id = compute_alert_id(kind, item) if isinstance(item, dict) else None
                        problem = None if isinstance(item, dict) else f"expected a JSON object, got {type(item).__name__}"
                    except InvalidRecordError as exc:
                        problem = exc.reason
                    records.append(_admit(self.settings, self.name, AlertSource.COMPUTE_API, alert_id, envelope, now,
                                          problem=problem))
                alerts = _alerts_in(records, self.settings)
                next_offset = page.offset + len(page.items)
                checkpoint = SourceCheckpoint(
                    source=self.name, watermark=self._checkpoint.watermark if self._checkpoint else None,
                    window_start=start, window_end=end, phase=phase, offset=next_offset,
                    pages_written=result.pages + 1, alerts_written=result.alerts + alerts, updated_at=now)
                await self._commit(records, checkpoint)
                result.pages += 1
                result.alerts += alerts
            offset = 0
        await self._finish_window(end)
        return result


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
