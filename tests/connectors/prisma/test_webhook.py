"""The webhook receiver: authenticated, acknowledges only what Kafka stored, dead-letters bad records."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from connectors.prisma.settings import WebhookSettings
from connectors.prisma.webhook import create_webhook_app
from processors.normalise import normalise
from processors.normalise.compute_webhook import compute_webhook_alert_id
from processors.errors import ConfigurationError
from processors.models import AlertSource, RawAlert
from processors.records import DeadLetter
from streams.async_publish import AsyncPublisher
from streams.publish import OutgoingRecord, PublishError
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import DLQ, RAW_ALERTS, create_topics
from tests.kafka_helpers import read_topic

TOKEN = "Bearer s3cret-webhook-token"

CSPM_NOTIFICATION: dict[str, Any] = {
    "alertId": "P-2741093",
    "alertStatus": "open",
    "reason": "NEW_ALERT",
    "policyId": "5a1f0c2e-8d3b-4f7a-9c61-2e4b7d9a0f13",
    "policyName": "AWS S3 bucket publicly readable via ACL or bucket policy",
    "policyType": "config",
    "severity": "high",
    "cloudType": "aws",
    "accountId": "123456789012",
    "accountName": "acme-prod",
    "resourceId": "acme-public-assets",
    "resourceName": "acme-public-assets",
    "resourceRegionId": "us-east-1",
    "resource": {"rrn": "rrn::storageBucket:us-east-1:123456789012:3f9c:acme-public-assets",
                 "id": "acme-public-assets", "resourceType": "STORAGE_BUCKET",
                 "data": {"policyStatus": {"isPublic": True}}},
    "firstSeen": 1718010131000,
    "lastSeen": 1718010131000,
    "source": "Prisma Cloud",
}

COMPUTE_RUNTIME_EVENT: dict[str, Any] = {
    "type": "Container Runtime",
    "time": "Jun 10, 2024 14:03:11 UTC",
    "containerID": "7d1e2f9ba1c54d209a4b2c3d4e5f6071",
    "host": "ip-10-20-3-41.ec2.internal",
    "rule": "Default - alert on suspicious runtime behavior",
    "message": "/usr/bin/curl launched but is not found in the runtime model.",
    "accountID": "123456789012",
    "category": "cloudMetadataProbing",
    "vulnerabilities": [],
}


class RecordingPublisher:
    """Stands in for Kafka in unit tests: stores what it was asked to write, or fails on demand."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[OutgoingRecord] = []
        self.fail = fail

    async def send_many(self, records: list[OutgoingRecord]) -> list[Any]:
        if self.fail:
            raise PublishError("broker unreachable")
        self.records.extend(records)
        return list(records)


def _notification(alert_id: str, **overrides: Any) -> dict[str, Any]:
    item = copy.deepcopy(CSPM_NOTIFICATION)
    item["alertId"] = alert_id
    item.update(overrides)
    return item


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


@pytest.fixture
def settings() -> WebhookSettings:
    return WebhookSettings(auth_token=SecretStr(TOKEN), max_body_bytes=64 * 1024)


async def test_accepted_cspm_alerts_are_written_as_raw_alerts_keyed_by_their_asset(settings: WebhookSettings) -> None:
    publisher = RecordingPublisher()
    async with _client(create_webhook_app(settings, publisher)) as client:
        response = await client.post("/webhooks/prisma/cspm", headers={"Authorization": TOKEN},
                                     json=[_notification("P-1"), _notification("P-2", alertStatus="resolved")])
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "dead_lettered": 0}
    assert [r.value.source_alert_id for r in publisher.records] == ["P-1", "P-2"]
    # Keyed by canonical asset id: everything about one asset shares a partition from the start.
    assert [r.key for r in publisher.records] == [normalise(r.value).resource.asset_id for r in publisher.records]
    assert publisher.records[0].key.startswith("aws:")
    raw = publisher.records[1].value
    assert isinstance(raw, RawAlert)
    assert raw.source is AlertSource.CSPM_WEBHOOK
    assert json.loads(raw.payload_json)["alertStatus"] == "resolved"
    assert publisher.records[0].topic == RAW_ALERTS.name


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN + "x"}])
async def test_requests_without_the_right_token_are_refused(settings: WebhookSettings, headers: dict[str, str]) -> None:
    publisher = RecordingPublisher()
    async with _client(create_webhook_app(settings, publisher)) as client:
        response = await client.post("/webhooks/prisma/cspm", headers=headers, json=[_notification("P-1")])
    assert response.status_code == 401
    assert publisher.records == []


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 400),
    (b'{"alertId": "P-1"}', 422),  # CSPM sends an array
    (b'"just a string"', 422),
])
async def test_malformed_bodies_get_a_clear_4xx(settings: WebhookSettings, body: bytes, status: int) -> None:
    publisher = RecordingPublisher()
    async with _client(create_webhook_app(settings, publisher)) as client:
        response = await client.post("/webhooks/prisma/cspm", content=body,
                                     headers={"Authorization": TOKEN, "Content-Type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]
    assert publisher.records == []


async def test_oversized_requests_are_refused_with_413(settings: WebhookSettings) -> None:
    publisher = RecordingPublisher()
    huge = [_notification(f"P-{i}", policyDescription="x" * 1000) for i in range(100)]
    async with _client(create_webhook_app(settings, publisher)) as client:
        response = await client.post("/webhooks/prisma/cspm", headers={"Authorization": TOKEN}, json=huge)
    assert response.status_code == 413
    assert publisher.records == []


async def test_bad_records_go_to_the_dlq_with_their_reason_while_good_ones_go_on(settings: WebhookSettings) -> None:
    publisher = RecordingPublisher()
    body = [_notification("P-1"), {"alertStatus": "open"}, "not an object",
            _notification("P-3", alertStatus="exploded"), _notification("P-4")]
    async with _client(create_webhook_app(settings, publisher)) as client:
        response = await client.post("/webhooks/prisma/cspm", headers={"Authorization": TOKEN}, json=body)
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "dead_lettered": 3}
    good = [r for r in publisher.records if r.topic == RAW_ALERTS.name]
    bad = [r.value for r in publisher.records if r.topic == DLQ.name]
    assert [r.value.source_alert_id for r in good] == ["P-1", "P-4"]
    reasons = [d.error_message for d in bad if isinstance(d, DeadLetter)]
    assert reasons == ["record 1: missing or empty alertId",
                       "record 2: expected a JSON object, got str",
                       "record 3: alertStatus 'exploded' is not one of ['dismissed', 'open', 'resolved', 'snoozed']"]
    assert all(isinstance(d, DeadLetter) and d.original_value for d in bad)


async def test_nothing_is_acknowledged_when_kafka_does_not_confirm(settings: WebhookSettings) -> None:
    async with _client(create_webhook_app(settings, RecordingPublisher(fail=True))) as client:
        response = await client.post("/webhooks/prisma/cspm", headers={"Authorization": TOKEN},
                                     json=[_notification("P-1")])
    assert response.status_code == 503  # Prisma Cloud retries a non-2xx delivery


async def test_compute_events_get_a_stable_id_so_retries_are_recognised(settings: WebhookSettings) -> None:
    publisher = RecordingPublisher()
    async with _client(create_webhook_app(settings, publisher)) as client:
        for _ in range(2):
            response = await client.post("/webhooks/prisma/compute", headers={"Authorization": TOKEN},
                                         json=COMPUTE_RUNTIME_EVENT)
            assert response.status_code == 200
    keys = {r.value.source_alert_id for r in publisher.records}
    assert keys == {compute_webhook_alert_id(COMPUTE_RUNTIME_EVENT)}
    other = dict(COMPUTE_RUNTIME_EVENT, message="another process")
    assert compute_webhook_alert_id(other) not in keys


async def test_a_vulnerability_event_listing_two_images_becomes_two_alerts_keyed_like_the_api_scan(
    settings: WebhookSettings,
) -> None:
    event = dict(COMPUTE_RUNTIME_EVENT, type="Container Vulnerability", host="", vulnerabilities=[
        {"imageName": "shop/checkout:1", "imageID": "sha256:aaa", "newVulnerabilities": []},
        {"imageName": "shop/cart:2", "imageID": "sha256:bbb", "newVulnerabilities": []},
    ])
    publisher = RecordingPublisher()
    async with _client(create_webhook_app(settings, publisher)) as client:
        response = await client.post("/webhooks/prisma/compute", headers={"Authorization": TOKEN}, json=event)
    assert response.json() == {"accepted": 2, "dead_lettered": 0}
    assert [r.value.source_alert_id for r in publisher.records] == [
        "cwpp:image-vulns:sha256:aaa", "cwpp:image-vulns:sha256:bbb"]
    assert len({r.key for r in publisher.records}) == 2  # two images, two assets


async def test_a_compute_event_naming_no_resource_is_dead_lettered(settings: WebhookSettings) -> None:
    publisher = RecordingPublisher()
    nameless = dict(COMPUTE_RUNTIME_EVENT, host="", containerID="", accountID="")
    async with _client(create_webhook_app(settings, publisher)) as client:
        response = await client.post("/webhooks/prisma/compute", headers={"Authorization": TOKEN}, json=nameless)
    assert response.json() == {"accepted": 0, "dead_lettered": 1}
    (letter,) = [r.value for r in publisher.records]
    assert isinstance(letter, DeadLetter)
    assert "names no host, function, image, container, cluster or account" in letter.error_message


async def test_readyz_names_each_failing_check_and_answers_503(settings: WebhookSettings) -> None:
    answers: dict[str, str | None] = {"publisher": None, "broker": "topics missing on the broker: prisma.dlq"}
    async with _client(create_webhook_app(settings, RecordingPublisher(), readiness=lambda: answers)) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "not ready",
                                   "failing": {"broker": "topics missing on the broker: prisma.dlq"}}
        answers["broker"] = None
        response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_readyz_without_a_probe_is_ready_while_the_app_serves(settings: WebhookSettings) -> None:
    async with _client(create_webhook_app(settings, RecordingPublisher())) as client:
        response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def test_the_receiver_refuses_to_start_without_a_token() -> None:
    with pytest.raises(ConfigurationError, match="PRISMAFLOW_WEBHOOK_AUTH_TOKEN"):
        create_webhook_app(WebhookSettings(), RecordingPublisher())


async def test_health_and_metrics_endpoints(settings: WebhookSettings) -> None:
    async with _client(create_webhook_app(settings, RecordingPublisher())) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        await client.post("/webhooks/prisma/cspm", headers={"Authorization": TOKEN}, json=[_notification("P-9")])
        metrics = (await client.get("/metrics")).text
    assert 'prismaflow_webhook_requests_total{endpoint="cspm",outcome="200"}' in metrics


@pytest.mark.broker
async def test_under_concurrent_posts_every_accepted_alert_is_on_the_raw_topic_and_every_rejected_one_is_accounted_for(
    kafka_bootstrap: str, topic_prefix: str, unique_name: Callable[[str], str],
) -> None:
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (RAW_ALERTS, DLQ), prefix=topic_prefix)
    settings = WebhookSettings(auth_token=SecretStr(TOKEN), raw_topic=topic_prefix + RAW_ALERTS.name,
                               dlq_topic=topic_prefix + DLQ.name, max_body_bytes=256 * 1024)
    serde = AvroSerde()
    publisher = AsyncPublisher(KafkaSettings(bootstrap_servers=kafka_bootstrap), serde)
    app = create_webhook_app(settings, publisher)

    async def post(client: httpx.AsyncClient, request_no: int) -> tuple[int, dict[str, Any]]:
        body: list[Any] = [_notification(f"P-{request_no}-{i}") for i in range(5)]
        if request_no % 4 == 0:
            body.append({"alertStatus": "open"})  # one bad record
        headers = {"Authorization": TOKEN if request_no % 10 != 7 else "wrong"}
        response = await client.post("/webhooks/prisma/cspm", headers=headers, json=body)
        return response.status_code, (response.json() if response.status_code == 200 else {})

    try:
        async with _client(app) as client:
            results = await asyncio.gather(*(post(client, n) for n in range(40)))
    finally:
        await publisher.close()

    accepted_ids = {f"P-{n}-{i}" for n, (status, _) in enumerate(results) if status == 200 for i in range(5)}
    unauthorised = [n for n, (status, _) in enumerate(results) if status == 401]
    assert unauthorised == [7, 17, 27, 37]
    expected_dlq = sum(body["dead_lettered"] for status, body in results if status == 200)
    assert expected_dlq == len([n for n in range(40) if n % 4 == 0 and n % 10 != 7])

    raw = read_topic(kafka_bootstrap, settings.raw_topic, expect=len(accepted_ids), settle_s=2, timeout_s=60,
                     committed=False)
    stored_ids = [serde.decode(m.value(), RawAlert, topic=settings.raw_topic).source_alert_id for m in raw]
    assert sorted(stored_ids) == sorted(accepted_ids)  # nothing lost, nothing doubled
    decoded = serde.decode(raw[0].value(), RawAlert, topic=settings.raw_topic)
    assert decoded.source is AlertSource.CSPM_WEBHOOK

    dlq = read_topic(kafka_bootstrap, settings.dlq_topic, expect=expected_dlq, settle_s=2, timeout_s=60,
                     committed=False)
    assert len(dlq) == expected_dlq
    letter = serde.decode(dlq[0].value(), DeadLetter, topic=settings.dlq_topic)
    assert letter.error_message.endswith("missing or empty alertId")
    assert dict(dlq[0].headers())["__connect.errors.stage"] == b"webhook.cspm"
