"""The fault campaign's cases end to end on the real broker: receiver, raw topic, core stage, DLQ.

The poison pill (a lone surrogate in ``policyName``) is followed by good notifications and the core
stage scores them all; ``[3 good, 1 bad]`` posted three times (a sender that retries though it got
200) puts three copies on the raw topic and the core stage's dedupe turns them into one scored
alert each; an alert too large for a Kafka record goes to the DLQ with its reference and an
excerpt, and the rest of its request is written.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from connectors.prisma.settings import WebhookSettings
from connectors.prisma.webhook import create_webhook_app
from processors.models import RawAlert, ScoredAlert
from processors.records import DeadLetter
from streams.async_publish import AsyncPublisher
from streams.embedded import ThreadedWorker
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import CATALOGUE, DLQ, RAW_ALERTS, SCORED_ALERTS, create_topics
from tests.connectors.prisma.test_webhook import CSPM_NOTIFICATION, TOKEN
from tests.connectors.prisma.webhook_support import receiver_client
from tests.kafka_helpers import read_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CSPM = "/webhooks/prisma/cspm"
HEADERS = {"Authorization": TOKEN, "Content-Type": "application/json"}


def _notification(alert_id: str, resource: str, **overrides: Any) -> dict[str, Any]:
    item = copy.deepcopy(CSPM_NOTIFICATION)
    item.update(alertId=alert_id, resourceId=resource, resourceName=resource, **overrides)
    item["resource"] = dict(item["resource"], id=resource, rrn=f"rrn::storageBucket:us-east-1:123456789012:{resource}")
    return item


@pytest.fixture
def core_worker(kafka_bootstrap: str, topic_prefix: str) -> Iterator[ThreadedWorker]:
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), CATALOGUE, prefix=topic_prefix)
    worker = ThreadedWorker("core", PrismaflowSettings(
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        worker=WorkerSettings(topic_prefix=topic_prefix, instance_id="edge", group_prefix=topic_prefix + "g",
                              max_batch=500)), AvroSerde())
    yield worker
    worker.stop()


async def test_hostile_requests_end_to_end_poison_pill_repeated_posts_and_an_oversize_alert(
    kafka_bootstrap: str, topic_prefix: str, unique_name: Callable[[str], str], core_worker: ThreadedWorker,
) -> None:
    serde = AvroSerde()
    settings = WebhookSettings(auth_token=SecretStr(TOKEN), raw_topic=topic_prefix + RAW_ALERTS.name,
                               dlq_topic=topic_prefix + DLQ.name, max_body_bytes=3 * 1024 * 1024)
    publisher = AsyncPublisher(KafkaSettings(bootstrap_servers=kafka_bootstrap), serde,
                               transactional_id=unique_name("webhook"), max_record_bytes=settings.max_record_bytes)
    poison = [_notification("P-poison", "bucket-a", policyName="Public \udcff bucket")]
    good_after = [_notification("P-after", "bucket-b")]
    three_good_one_bad = [_notification("P-1", "bucket-c"), _notification("P-2", "bucket-d"),
                          _notification("\ud800", "bucket-e"), _notification("P-3", "bucket-f")]
    with_oversize = [_notification("P-4", "bucket-g"),
                     _notification("P-huge", "bucket-h", policyDescription="x" * 600_000, recommendation="y" * 600_000)]
    answers = []
    try:
        async with receiver_client(create_webhook_app(settings, publisher)) as client:
            for body in [poison, good_after, three_good_one_bad, three_good_one_bad, three_good_one_bad, with_oversize]:
                response = await client.post(CSPM, content=json.dumps(body).encode(), headers=HEADERS)
                answers.append((response.status_code, response.json()))
    finally:
        await publisher.close()
    assert answers == [(200, {"accepted": 1, "dead_lettered": 0}), (200, {"accepted": 1, "dead_lettered": 0})] + \
        [(200, {"accepted": 3, "dead_lettered": 1})] * 3 + [(200, {"accepted": 1, "dead_lettered": 1})]

    raw_topic, dlq_topic, scored_topic = (topic_prefix + t.name for t in (RAW_ALERTS, DLQ, SCORED_ALERTS))
    raw = [serde.decode(m.value(), RawAlert, topic=raw_topic) for m in read_topic(kafka_bootstrap, raw_topic, expect=12)]
    assert Counter(r.source_alert_id for r in raw) == {
        "P-poison": 1, "P-after": 1, "P-1": 3, "P-2": 3, "P-3": 3, "P-4": 1}

    letters = [serde.decode(m.value(), DeadLetter, topic=dlq_topic)
               for m in read_topic(kafka_bootstrap, dlq_topic, expect=4)]
    assert sorted(letter.stage for letter in letters) == ["webhook.cspm"] * 4  # the core stage refused nothing
    assert sum("alert id holds U+D800" in letter.error_message for letter in letters) == 3
    (oversize,) = [letter for letter in letters if "P-huge" in letter.error_message]
    assert "more than the 1000000 a record may have" in oversize.error_message
    assert oversize.original_value is not None and len(oversize.original_value) == settings.dlq_excerpt_bytes

    # The core stage scored every good alert once: the poison pill too, and the re-posted copies were dropped.
    scored = [serde.decode(m.value(), ScoredAlert, topic=scored_topic)
              for m in read_topic(kafka_bootstrap, scored_topic, expect=6, settle_s=5.0)]
    assert Counter(s.alert.alert_id for s in scored) == {
        "P-poison": 1, "P-after": 1, "P-1": 1, "P-2": 1, "P-3": 1, "P-4": 1}
    (pill,) = [s for s in scored if s.alert.alert_id == "P-poison"]
    assert pill.alert.policy_name == "Public \ufffd bucket"
    assert core_worker.thread.is_alive() and core_worker.error is None
