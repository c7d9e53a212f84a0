"""A stand-in for Kafka behind the webhook receiver, for unit and fuzz tests.

:class:`SerdePublisher` keeps the contract of :class:`streams.async_publish.AsyncPublisher` without a
broker: every record is encoded by the same function the real publisher uses
(:func:`streams.async_publish.encode_records`, the project's Avro serde and the size limit), a batch
with records that can never be written raises RecordsRejectedError and writes nothing, and a batch is
written whole or (a simulated outage) not at all.
"""

from __future__ import annotations

from typing import Any

import httpx

from processors.models import RawAlert
from processors.records import DeadLetter
from streams.async_publish import EncodedRecord, encode_records
from streams.publish import OutgoingRecord, PublishError
from streams.serde import AvroSerde
from streams.topics import DLQ, RAW_ALERTS


class SerdePublisher:
    """Records what would be written, encoded as Kafka would get it; fails the next ``failures`` writes."""

    def __init__(self, serde: AvroSerde, *, max_record_bytes: int = 1_000_000, failures: int = 0) -> None:
        self.serde = serde
        self.max_record_bytes = max_record_bytes
        self.failures = failures
        self.attempts = 0
        self.written: list[tuple[OutgoingRecord, EncodedRecord]] = []

    async def send_many(self, records: list[OutgoingRecord]) -> list[Any]:
        encoded = encode_records(self.serde, records, self.max_record_bytes)
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise PublishError("simulated outage: the transaction was aborted")
        self.written.extend(zip(records, encoded, strict=True))
        return list(records)

    def raw_alerts(self, topic: str = RAW_ALERTS.name) -> list[RawAlert]:
        """The raw alerts written, decoded back from their bytes."""
        return [self.serde.decode(e.value, RawAlert, topic=topic) for r, e in self.written
                if r.topic == topic and e.value is not None]

    def dead_letters(self, topic: str = DLQ.name) -> list[DeadLetter]:
        """The dead letters written, decoded back from their bytes."""
        return [self.serde.decode(e.value, DeadLetter, topic=topic) for r, e in self.written
                if r.topic == topic and e.value is not None]


def receiver_client(app: Any) -> httpx.AsyncClient:
    """An HTTP client that calls the receiver in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


