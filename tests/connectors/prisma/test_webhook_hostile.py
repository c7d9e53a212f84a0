"""Hostile input at the receiver: every case of the fault campaign, answered 4xx or dead-lettered, never 500.

Each test posts through ``httpx.ASGITransport`` to the real app; the publisher encodes every record
with the project's serde (see ``webhook_support``), so "accepted" also means "encodes".
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.feeds.store import load_default_feeds
from connectors.prisma.settings import WebhookSettings
from connectors.prisma.webhook import create_webhook_app
from processors.enrich import EnrichmentContext
from processors.models import RawAlert
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from processors.records import ScoringState
from processors.sanitise import REPLACED_CHARACTERS_HEADER
from streams.serde import AvroSerde
from streams.static_inputs import load_scoring_policy
from tests.connectors.prisma.test_webhook import COMPUTE_RUNTIME_EVENT, CSPM_NOTIFICATION, TOKEN
from tests.connectors.prisma.webhook_support import SerdePublisher, receiver_client

CSPM = "/webhooks/prisma/cspm"
COMPUTE = "/webhooks/prisma/compute"
HEADERS = {"Authorization": TOKEN, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def serde() -> AvroSerde:
    return AvroSerde()


@pytest.fixture
def settings() -> WebhookSettings:
    return WebhookSettings(auth_token=SecretStr(TOKEN), max_body_bytes=3 * 1024 * 1024)


def _notification(alert_id: str = "P-1", **overrides: Any) -> dict[str, Any]:
    item = copy.deepcopy(CSPM_NOTIFICATION)
    item["alertId"] = alert_id
    item.update(overrides)
    return item


def _body(items: list[dict[str, Any]]) -> bytes:
    """JSON as Prisma would send it, escapes kept (a lone surrogate stays the text ``\\udcff``)."""
    return json.dumps(items).encode()


async def _post(settings: WebhookSettings, publisher: Any, path: str, body: bytes) -> Any:
    async with receiver_client(create_webhook_app(settings, publisher)) as client:
        return await client.post(path, content=body, headers=HEADERS)


async def test_a_lone_surrogate_in_the_policy_name_is_replaced_and_the_alert_scores_and_encodes(
    settings: WebhookSettings, serde: AvroSerde,
) -> None:
    """The poison pill: accepted with 200 before, then `run core` died on every restart."""
    publisher = SerdePublisher(serde)
    response = await _post(settings, publisher, CSPM, _body([_notification(policyName="Public \udcff bucket")]))
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "dead_lettered": 0}
    (raw,) = publisher.raw_alerts()
    assert json.loads(raw.payload_json)["policyName"] == "Public \ufffd bucket"
    assert publisher.written[0][0].headers == {REPLACED_CHARACTERS_HEADER: b"1"}
    # What the core stage does with it now encodes, state included.
    context = EnrichmentContext(feeds=load_default_feeds())
    alert = normalise_and_enrich(raw, context)
    scored, states = process_for_asset(StageStates(), alert, load_scoring_policy(), alert.ingested_at)
    assert scored is not None and "\ufffd" in scored.alert.policy_name
    serde.encode(scored, topic="scored")
    assert states.dedupe is not None
    serde.encode(ScoringState(dedupe=states.dedupe), topic="changelog")


@pytest.mark.parametrize("path", [CSPM, COMPUTE])
@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 1000 + b"]" * 1000, "nesting deeper than"),
    (b'{"a":' * 1000 + b"1" + b"}" * 1000, "nesting deeper than"),
    (b'[{"alertId": "P-1", "firstSeen": ' + b"7" * 5000 + b"}]", "a number of 5000 characters"),
    (b'[{"alertId": "P-1", "riskScore": NaN}]', "NaN is not a JSON number"),
    (b'[{"alertId": "P-1", "riskScore": Infinity}]', "Infinity is not a JSON number"),
    (b'[{"alertId": "P-1", "riskScore": -Infinity}]', "Infinity is not a JSON number"),
    (b'[{"alertId": "P-1", "riskScore": 1e400}]', "out of range"),
    (b"[\xed\xa0\x80]", "not valid JSON"),
    (b"\xff\xfe[]", "not valid JSON"),
])
async def test_malformed_bodies_are_a_400_and_nothing_is_written(
    settings: WebhookSettings, serde: AvroSerde, path: str, body: bytes, reason: str,
) -> None:
    publisher = SerdePublisher(serde)
    response = await _post(settings, publisher, path, body)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert publisher.attempts == 0 and publisher.written == []


@pytest.mark.parametrize(("alert_id", "reason"), [
    ("\ud800", "U+D800"),
    ("P-\x00", "U+0000"),
    ("P-\u202e1", "U+202E"),
    ("P-\u200b1", "U+200B"),
    ("\ufeffP-1", "U+FEFF"),
    ("P-1\u2028", "U+2028"),
    ("P-1\r\nX-Injected: 1", "U+000D"),
    ("P-" + "9" * 100_000, "100002 characters long"),
])
async def test_odd_alert_ids_are_dead_lettered_with_the_reason_and_the_good_records_go_on(
    settings: WebhookSettings, serde: AvroSerde, alert_id: str, reason: str,
) -> None:
    publisher = SerdePublisher(serde)
    body = _body([_notification("P-good-1"), _notification(alert_id), _notification("P-good-2")])
    response = await _post(settings, publisher, CSPM, body)
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "dead_lettered": 1}
    assert [r.source_alert_id for r in publisher.raw_alerts()] == ["P-good-1", "P-good-2"]
    (letter,) = publisher.dead_letters()
    assert letter.error_message.startswith("record 1: alert id") and reason in letter.error_message
    assert letter.original_value is not None and letter.stage == "webhook.cspm"


async def test_undecodable_bytes_are_replaced_in_free_text_and_refused_in_ids(
    settings: WebhookSettings, serde: AvroSerde,
) -> None:
    good = json.dumps([_notification("P-1")]).encode()
    in_text = good.replace(b"AWS S3 bucket", b"AWS \xed\xa0\x80 bucket")
    in_id = json.dumps([_notification("P-2"), _notification("P-XX")]).encode().replace(b"P-XX", b"P-\xed\xa0\x80")
    publisher = SerdePublisher(serde)
    assert (await _post(settings, publisher, CSPM, in_text)).json() == {"accepted": 1, "dead_lettered": 0}
    assert json.loads(publisher.raw_alerts()[0].payload_json)["policyName"].startswith("AWS \ufffd\ufffd\ufffd bucket")
    response = await _post(settings, publisher, CSPM, in_id)
    assert response.json() == {"accepted": 1, "dead_lettered": 1}
    assert "U+FFFD" in publisher.dead_letters()[0].error_message


async def test_undecodable_bytes_in_a_compute_event_are_replaced(settings: WebhookSettings, serde: AvroSerde) -> None:
    body = json.dumps(COMPUTE_RUNTIME_EVENT).encode().replace(b"/usr/bin/curl", b"/usr/bin/\xed\xa0\x80")
    publisher = SerdePublisher(serde)
    response = await _post(settings, publisher, COMPUTE, body)
    assert response.json() == {"accepted": 1, "dead_lettered": 0}
    assert "\ufffd" in json.loads(publisher.raw_alerts()[0].payload_json)["message"]


async def test_a_compute_image_id_with_a_lone_surrogate_is_dead_lettered(
    settings: WebhookSettings, serde: AvroSerde,
) -> None:
    event = dict(COMPUTE_RUNTIME_EVENT, type="Container Vulnerability", host="", vulnerabilities=[
        {"imageName": "shop/checkout:1", "imageID": "sha256:\ud800", "newVulnerabilities": []},
        {"imageName": "shop/cart:2", "imageID": "sha256:bbb", "newVulnerabilities": []},
    ])
    publisher = SerdePublisher(serde)
    response = await _post(settings, publisher, COMPUTE, json.dumps(event).encode())
    assert response.json() == {"accepted": 1, "dead_lettered": 1}
    # The id derives from the cleaned event: the surrogate is U+FFFD there, which no id may hold.
    assert "alert id holds U+FFFD" in publisher.dead_letters()[0].error_message


async def test_a_lone_surrogate_in_a_field_a_compute_id_is_derived_from_is_replaced_not_a_crash(
    settings: WebhookSettings, serde: AvroSerde,
) -> None:
    publisher = SerdePublisher(serde)
    body = json.dumps(dict(COMPUTE_RUNTIME_EVENT, category="\ud800")).encode()
    response = await _post(settings, publisher, COMPUTE, body)
    assert response.json() == {"accepted": 1, "dead_lettered": 0}
    assert json.loads(publisher.raw_alerts()[0].payload_json)["category"] == "\ufffd"


async def test_a_request_retried_after_503_writes_every_record_once(settings: WebhookSettings, serde: AvroSerde) -> None:
    """[3 good, 1 bad] answered 503 twice (writes aborted), then 200: each record is written once."""
    publisher = SerdePublisher(serde, failures=2)
    body = _body([_notification("P-1"), _notification("P-2"), _notification("\ud800"), _notification("P-3")])
    statuses = []
    async with receiver_client(create_webhook_app(settings, publisher)) as client:
        for _ in range(3):
            response = await client.post(CSPM, content=body, headers=HEADERS)
            statuses.append(response.status_code)
            if response.status_code == 503:
                assert response.headers["Retry-After"] == str(settings.retry_after_s)
    assert statuses == [503, 503, 200]
    assert sorted(r.source_alert_id for r in publisher.raw_alerts()) == ["P-1", "P-2", "P-3"]
    assert len(publisher.dead_letters()) == 1


async def test_a_record_over_the_kafka_size_is_dead_lettered_with_its_reference_and_an_excerpt(
    settings: WebhookSettings, serde: AvroSerde,
) -> None:
    publisher = SerdePublisher(serde, max_record_bytes=settings.max_record_bytes)
    huge = _notification("P-huge", policyDescription="x" * 600_000, recommendation="y" * 600_000)
    response = await _post(settings, publisher, CSPM, _body([_notification("P-1"), huge, _notification("P-2")]))
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "dead_lettered": 1}
    assert [r.source_alert_id for r in publisher.raw_alerts()] == ["P-1", "P-2"]
    (letter,) = publisher.dead_letters()
    assert letter.error_message.startswith("record 1 (alert id 'P-huge'): ")
    assert "more than the 1000000 a record may have" in letter.error_message
    assert "cut to its first 65536" in letter.error_message
    assert letter.original_value is not None and len(letter.original_value) == 65536
    assert letter.original_key is not None and letter.original_key.decode().startswith("aws:")
    assert all(e.size <= settings.max_record_bytes for _, e in publisher.written)


async def test_a_broker_outage_is_answered_503_with_retry_after(settings: WebhookSettings, serde: AvroSerde) -> None:
    publisher = SerdePublisher(serde, failures=1)
    response = await _post(settings, publisher, CSPM, _body([_notification("P-1")]))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert publisher.written == []


async def test_oversized_content_length_headers_never_crash_the_receiver(settings: WebhookSettings, serde: AvroSerde) -> None:
    app = create_webhook_app(settings, SerdePublisher(serde))
    for declared in ("9" * 5000, "\u00b2"):
        scope_headers = [(b"authorization", TOKEN.encode()), (b"content-type", b"application/json"),
                         (b"content-length", declared.encode("latin-1"))]
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"[]", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        await app({"type": "http", "method": "POST", "path": CSPM, "raw_path": CSPM.encode(), "query_string": b"",
                   "headers": scope_headers, "http_version": "1.1", "scheme": "http", "server": ("r", 80),
                   "client": ("c", 1), "root_path": "", "asgi": {"version": "3.0"}}, receive, send)
        assert messages[0]["status"] in (200, 413)


def test_raw_alert_payloads_written_by_the_receiver_are_ascii_json(serde: AvroSerde) -> None:
    """payload_json is compact ASCII JSON: escapes, never raw control or bidi characters in the bytes."""
    from processors.models import AlertSource
    from processors.sanitise import admit_raw_alert

    admitted = admit_raw_alert(source=AlertSource.CSPM_WEBHOOK, alert_id="P-1",
                               payload={"policyName": "a\u202eb\x00c\u2028"}, tenant="t",
                               received_at=datetime(2026, 1, 1, tzinfo=UTC), ingest_id="i", key=lambda r: "k")
    assert isinstance(admitted.raw, RawAlert) and admitted.raw.payload_json.isascii()


async def test_during_a_broker_outage_the_real_publisher_is_answered_503_within_the_write_timeout(
    settings: WebhookSettings, serde: AvroSerde,
) -> None:
    """Before: every request waited the producer's 30 s message timeout. Now: write_timeout_s (5 s)."""
    import socket
    import time

    from streams.async_publish import AsyncPublisher
    from streams.settings import KafkaSettings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{sock.getsockname()[1]}"
    publisher = AsyncPublisher(KafkaSettings(bootstrap_servers=nobody), serde, timeout_s=settings.write_timeout_s)
    try:
        started = time.monotonic()
        response = await _post(settings, publisher, CSPM, _body([_notification("P-1")]))
        elapsed = time.monotonic() - started
    finally:
        await publisher.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.retry_after_s)
    assert settings.write_timeout_s - 1 < elapsed < settings.write_timeout_s + 2
