"""No record can stop a partition: a record whose outputs cannot be encoded is dead-lettered, and the
stream core goes on with the state it had before that record (real broker)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from connectors.prisma.simulator.traffic import raw_alert, raw_alert_stream
from processors.models import AlertSource, RawAlert
from processors.pipeline import raw_alert_key
from processors.records import DeadLetter
from streams.embedded import ThreadedWorker
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import DLQ, RAW_ALERTS, SCORED_ALERTS
from tests.kafka_helpers import read_topic
from tests.streams.test_core_pipeline import _expected, _own_alert_ids, _produce

pytestmark = [pytest.mark.broker, pytest.mark.slow]

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture
def worker(kafka: KafkaSettings, catalogue: str) -> Iterator[Callable[[], ThreadedWorker]]:
    started: list[ThreadedWorker] = []

    def start() -> ThreadedWorker:
        settings = WorkerSettings(topic_prefix=catalogue, group_prefix=catalogue + "g", max_batch=500)
        started.append(ThreadedWorker("core", PrismaflowSettings(kafka=kafka, worker=settings), AvroSerde()))
        return started[-1]

    yield start
    for w in started:
        w.stop()


def _poisoned_copy(record: RawAlert) -> RawAlert:
    """The same alert with a lone UTF-16 surrogate in its policy name, as a JSON escape: valid JSON,
    but a string no serializer can write as UTF-8 (what a hostile tag or name can carry)."""
    payload = json.loads(record.payload_json)
    payload["policy"]["name"] = "Public bucket \udcff"
    payload["id"] = payload["id"] + "-poison"
    return raw_alert(AlertSource.CSPM_API, payload["id"], payload, now=NOW)


def test_a_record_that_cannot_be_encoded_is_dead_lettered_and_the_partition_keeps_flowing(
    kafka: KafkaSettings, catalogue: str, worker: Callable[[], ThreadedWorker],
) -> None:
    serde = AvroSerde()
    good = [r for r in raw_alert_stream(600, seed=5, now=NOW, ) if r.source is AlertSource.CSPM_API]
    cspm = next(r for r in good if "policy" in json.loads(r.payload_json))
    poison = _poisoned_copy(cspm)
    assert raw_alert_key(poison) == raw_alert_key(cspm)  # same asset, same partition as its neighbours
    before, after = good[:300], good[300:]
    records = [*before, poison, *after]
    expected, expected_dead = _expected(before + after)

    running = worker()
    _produce(kafka, serde, catalogue + RAW_ALERTS.name, records)

    scored_topic = catalogue + SCORED_ALERTS.name
    messages = read_topic(kafka, scored_topic, expect=sum(expected.values()))
    got = _own_alert_ids(messages, serde, scored_topic)  # leaving out members re-emitted for their incident
    # Everything around the poison is scored exactly as the pure pipeline scores the stream without it:
    # the state the poison touched was put back before the records behind it were processed.
    assert got == expected
    letters = [serde.decode(m.value(), DeadLetter, topic=catalogue + DLQ.name)
               for m in read_topic(kafka, catalogue + DLQ.name, expect=expected_dead + 1)]
    poisoned = [d for d in letters if d.error_class == "SerializationError"]
    assert len(poisoned) == 1
    assert poisoned[0].stage == "core" and "cannot be encoded" in poisoned[0].error_message
    assert serde.decode(poisoned[0].original_value or b"", RawAlert, topic=catalogue + RAW_ALERTS.name).source_alert_id \
        == poison.source_alert_id
    assert running.thread.is_alive() and running.error is None
