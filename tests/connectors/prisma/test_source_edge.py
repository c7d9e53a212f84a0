"""The pollers apply the edge's text rule: odd records are dead-lettered in the page's transaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.ports import SourceCheckpoint
from connectors.prisma.models import AlertPage, ComputePage
from connectors.prisma.settings import PollerSettings
from connectors.prisma.source import ComputePoller, CspmPoller
from processors.models import RawAlert
from processors.records import DeadLetter
from processors.sanitise import REPLACED_CHARACTERS_HEADER
from streams.async_publish import encode_records
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.topics import DLQ, RAW_ALERTS
from tests.processors import payloads as p

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


class MemoryWriter:
    """Stands in for the transactional page writer; encodes every record as Kafka would get it."""

    def __init__(self) -> None:
        self.pages: list[list[OutgoingRecord]] = []
        self.serde = AvroSerde()

    async def write(self, records: Sequence[OutgoingRecord], checkpoint: SourceCheckpoint) -> None:
        encode_records(self.serde, [*records, OutgoingRecord("c", checkpoint.source, checkpoint)], 1_000_000)
        self.pages.append(list(records))


class NoCheckpoint:
    def load(self, source: str) -> SourceCheckpoint | None:
        return None


class OnePageCspm:
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def iter_alert_pages(self, *args: Any, **kwargs: Any) -> AsyncIterator[AlertPage]:
        async def pages() -> AsyncIterator[AlertPage]:
            yield AlertPage(items=self.items)

        return pages()


class OnePageCompute:
    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def iter_pages(self, path: str, params: Any, *, offset: int = 0) -> AsyncIterator[ComputePage]:
        async def pages() -> AsyncIterator[ComputePage]:
            if path == "/audits/incidents":
                yield ComputePage(items=self.items, offset=0, limit=50)

        return pages()


async def test_the_cspm_poller_dead_letters_odd_records_and_repairs_free_text() -> None:
    good = p.cspm_alert()
    items = [
        dict(good, id="P-100", policy=dict(good.get("policy", {}), name="bucket \udcff")),
        dict(good, id="P-\u202e101"),
        {k: v for k, v in good.items() if k != "id"},
        dict(good, id="P-102", riskScore=float("nan")),
        dict(good, id="P-103"),
    ]
    writer = MemoryWriter()
    result = await CspmPoller(PollerSettings(), OnePageCspm(items), writer, NoCheckpoint(),  # type: ignore[arg-type]
                              clock=lambda: NOW).poll_once()
    records = writer.pages[0]
    raw = [r for r in records if r.topic == RAW_ALERTS.name]
    letters = [r.value for r in records if r.topic == DLQ.name]
    assert result.alerts == 2
    assert [r.value.source_alert_id for r in raw if isinstance(r.value, RawAlert)] == ["P-100", "P-103"]
    first = raw[0].value
    assert isinstance(first, RawAlert) and "bucket \\ufffd" in first.payload_json
    assert raw[0].headers == {REPLACED_CHARACTERS_HEADER: b"1"}
    reasons = [d.error_message for d in letters if isinstance(d, DeadLetter)]
    assert len(reasons) == 3
    assert "U+202E" in reasons[0] and "record has no id" in reasons[1] and "nan" in reasons[2]
    assert all(isinstance(d, DeadLetter) and d.stage == "poller.cspm:default" for d in letters)


async def test_the_compute_poller_dead_letters_a_record_without_its_id_instead_of_stopping() -> None:
    incident = {"_id": "inc-1", "hostname": "web-1", "type": "host", "time": "2026-11-26T11:00:00Z"}
    writer = MemoryWriter()
    poller = ComputePoller(PollerSettings(), OnePageCompute([{"hostname": "web-2"}, incident]),  # type: ignore[arg-type]
                           writer, NoCheckpoint(), clock=lambda: NOW)
    result = await poller.poll_once()
    records = [r for page in writer.pages for r in page]
    assert result.alerts == 1
    assert [r.value.source_alert_id for r in records if isinstance(r.value, RawAlert)] == ["cwpp:incident:inc-1"]
    (letter,) = [r.value for r in records if isinstance(r.value, DeadLetter)]
    assert "_id" in letter.error_message
    assert json.loads(letter.original_value or b"{}")["record"] == {"hostname": "web-2"}
