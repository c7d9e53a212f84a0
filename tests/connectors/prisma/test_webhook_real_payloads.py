"""The webhook receiver splits, validates and keys real Prisma Cloud bodies as the normaliser will read them.

Every webhook sample of ``tests/data/real`` is posted to the receiver (Kafka replaced by a
recorder of what would be written): a body becomes exactly the raw alerts its expectations list,
keyed by the alert id the normaliser gives them, or one dead letter with the expected reason.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.prisma.settings import WebhookSettings
from connectors.prisma.webhook import create_webhook_app
from processors.models import AlertSource, RawAlert
from processors.normalise import normalise
from processors.records import DeadLetter
from streams.publish import OutgoingRecord
from tests.processors.real_corpus import Sample, samples

TOKEN = "Bearer corpus-token"
WEBHOOK_SAMPLES = [s for s in samples() if s.source in (AlertSource.CSPM_WEBHOOK, AlertSource.COMPUTE_WEBHOOK)]


class Recorder:
    """Stands in for Kafka: keeps what the receiver asked it to write."""

    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []

    async def send_many(self, records: list[OutgoingRecord]) -> list[Any]:
        self.records.extend(records)
        return list(records)


async def _post(item: Sample) -> tuple[dict[str, Any], list[OutgoingRecord]]:
    recorder = Recorder()
    app = create_webhook_app(WebhookSettings(auth_token=SecretStr(TOKEN)), recorder)
    cspm = item.source is AlertSource.CSPM_WEBHOOK
    body = item.payload if not cspm or isinstance(item.payload, list) else [item.payload]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as client:
        response = await client.post("/webhooks/prisma/cspm" if cspm else "/webhooks/prisma/compute",
                                     headers={"Authorization": TOKEN}, json=body)
    assert response.status_code == 200
    return response.json(), recorder.records


@pytest.mark.parametrize("item", WEBHOOK_SAMPLES, ids=lambda s: s.name)
async def test_receiver_writes_one_raw_alert_per_expected_alert_or_one_dead_letter(item: Sample) -> None:
    outcome, records = await _post(item)
    if item.dead_letter:
        assert outcome == {"accepted": 0, "dead_lettered": 1}
        (letter,) = [r.value for r in records]
        assert isinstance(letter, DeadLetter) and item.dead_letter in letter.error_message
        return
    assert outcome == {"accepted": len(item.alerts), "dead_lettered": 0}
    raws = [r.value for r in records]
    assert all(isinstance(raw, RawAlert) for raw in raws)
    for record, expected in zip(records, item.alerts, strict=True):
        raw = record.value
        assert isinstance(raw, RawAlert)
        if "alert_id" in expected:
            assert raw.source_alert_id == expected["alert_id"]
        else:
            assert raw.source_alert_id.startswith(expected["alert_id_prefix"])
        alert = normalise(raw)
        assert alert.alert_id == raw.source_alert_id  # the key the receiver chose is the stage's id
        assert record.key == alert.resource.asset_id


async def test_a_retried_compute_body_gets_the_same_keys() -> None:
    item = next(s for s in WEBHOOK_SAMPLES if s.name.endswith("compute_webhook_image_vulnerabilities_two_images.json"))
    first = [r.value.source_alert_id for r in (await _post(item))[1] if isinstance(r.value, RawAlert)]
    again = [r.value.source_alert_id for r in (await _post(item))[1] if isinstance(r.value, RawAlert)]
    assert first == again and len(set(first)) == 2
