"""AsyncPublisher: a request's records are written all or none, within a bounded time."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from processors.models import AlertSource, RawAlert
from streams.async_publish import AsyncPublisher
from streams.errors import RecordsRejectedError
from streams.publish import OutgoingRecord, PublishError
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import RAW_ALERTS, create_topics
from tests.processors import payloads as p
from tests.kafka_helpers import read_topic


def _raw(alert_id: str, filler: str = "") -> RawAlert:
    payload = p.cspm_alert(alert_id=alert_id)
    if filler:
        payload["policyDescription"] = filler
    return p.raw("cspm_api", payload, alert_id=alert_id)


def _records(topic: str, ids: list[str]) -> list[OutgoingRecord]:
    return [OutgoingRecord(topic, alert_id, _raw(alert_id)) for alert_id in ids]


def _committed(bootstrap: str, topic: str, serde: AvroSerde, settle_s: float = 2.0) -> list[str]:
    return [serde.decode(m.value(), RawAlert, topic=topic).source_alert_id
            for m in read_topic(bootstrap, topic, settle_s=settle_s)]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_records_that_can_never_be_written_are_named_and_nothing_is_sent() -> None:
    serde = AvroSerde()
    publisher = AsyncPublisher(KafkaSettings(bootstrap_servers=f"127.0.0.1:{_closed_port()}"), serde,
                               max_record_bytes=50_000)
    records = [*_records("t", ["P-1"]), OutgoingRecord("t", "P-2", _raw("P-2", "x" * 60_000)),
               OutgoingRecord("t", "P-3", _raw("P-3").model_copy(update={"tenant": "bad \udcff"}))]
    try:
        with pytest.raises(RecordsRejectedError) as caught:
            await publisher.send_many(records)
    finally:
        await publisher.close()
    assert sorted(caught.value.rejections) == [1, 2]
    assert "more than the 50000" in caught.value.rejections[1]
    assert "cannot be encoded" in caught.value.rejections[2]


async def test_a_broker_outage_is_reported_within_the_timeout() -> None:
    serde = AvroSerde()
    publisher = AsyncPublisher(KafkaSettings(bootstrap_servers=f"127.0.0.1:{_closed_port()}"), serde, timeout_s=1.5)
    try:
        for _ in range(2):  # the first call starts the producer, the second finds it still failing
            started = time.monotonic()
            with pytest.raises(PublishError):
                await publisher.send_many(_records("t", ["P-1", "P-2"]))
            assert time.monotonic() - started < 1.5 + 1.0
        # Concurrent requests during the outage are all answered in bounded time, too.
        started = time.monotonic()
        results = await asyncio.gather(*(publisher.send_many(_records("t", [f"P-{n}"])) for n in range(5)),
                                       return_exceptions=True)
        assert all(isinstance(r, PublishError) for r in results)
        assert time.monotonic() - started < 2 * 1.5 + 1.0
    finally:
        await publisher.close()


@pytest.mark.broker
async def test_concurrent_requests_are_each_written_once_in_committed_transactions(
    kafka_bootstrap: str, topic_prefix: str, unique_name: Any,
) -> None:
    topic = topic_prefix + RAW_ALERTS.name
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (RAW_ALERTS,), prefix=topic_prefix)
    serde = AvroSerde()
    async with AsyncPublisher(KafkaSettings(bootstrap_servers=kafka_bootstrap), serde,
                              transactional_id=unique_name("tx")) as publisher:
        results = await asyncio.gather(*(publisher.send_many(_records(topic, [f"P-{n}-{i}" for i in range(4)]))
                                         for n in range(10)))
    assert [len(r) for r in results] == [4] * 10
    assert all(d.offset >= 0 and d.topic == topic for r in results for d in r)
    assert sorted(_committed(kafka_bootstrap, topic, serde)) == sorted(f"P-{n}-{i}" for n in range(10) for i in range(4))


@pytest.mark.broker
async def test_a_failed_transaction_leaves_nothing_visible_and_the_retry_writes_each_record_once(
    kafka_bootstrap: str, topic_prefix: str, unique_name: Any,
) -> None:
    """A request whose write fails half-way (here: one record for a partition that does not exist)
    is aborted whole; read_committed readers see none of it, so the client's retry duplicates nothing."""
    topic = topic_prefix + RAW_ALERTS.name
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (RAW_ALERTS,), prefix=topic_prefix)
    serde = AvroSerde()
    good = _records(topic, ["P-1", "P-2", "P-3"])
    broken = OutgoingRecord(topic, "P-4", _raw("P-4"), partition=RAW_ALERTS.partitions + 40)
    async with AsyncPublisher(KafkaSettings(bootstrap_servers=kafka_bootstrap), serde,
                              transactional_id=unique_name("tx")) as publisher:
        await publisher.send_many(_records(topic, ["P-0"]))  # the producer is up and has metadata
        with pytest.raises(PublishError):
            await publisher.send_many([*good, broken])
        await publisher.send_many(good)  # the retry, without the record that cannot be written
    assert sorted(_committed(kafka_bootstrap, topic, serde)) == ["P-0", "P-1", "P-2", "P-3"]
