"""Known false positives dismissed in auto mode, on the real broker and worker loop: the remediation-request
stage dismisses an allowlisted dev alert the history suggests dismissing through Prisma Cloud's
``POST /alert/dismiss`` (the Prisma Cloud simulator, in-process) and audits it under the alert id; the
same finding in an assist environment or in production stays open, and nothing is audited as dismissed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock, generate_estate
from processors.models import Environment, ScoredAlert
from processors.records import AuditRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, REMEDIATIONS, SCORED_ALERTS
from tests.kafka_helpers import produce_models, read_topic
from tests.processors.remediation.conftest import family_alert
from tests.processors.remediation.test_dismissal import POLICY  # auto in dev and prod, assist in staging

pytestmark = [pytest.mark.broker, pytest.mark.slow]



def _noise(alert_id: str, environment: Environment) -> ScoredAlert:
    scored = family_alert("s3_public_access", alert_id=alert_id, resource_id=f"bucket-{alert_id.lower()}",
                          config={"bucketName": f"bucket-{alert_id.lower()}"}, environment=environment)
    return scored.model_copy(update={"suggested_dismissal": True,
                                     "suggestion_reason": "dismissed 3 times before as a build cache <b>bucket</b>"})


def test_auto_mode_dismisses_an_allowlisted_known_false_positive_and_assist_or_production_do_not(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str,
        run_request_stage: Callable[..., None]) -> None:
    clock = SimClock()
    sim = PrismaCloudSimulator(generate_estate(11, 40, now_ms=clock.now_ms()), clock=clock)
    dev_id, staging_id, prod_id = sorted(i for i, a in sim.alerts.items() if a["status"] == "open")[:3]
    prisma = CspmClient(PrismaSettings(api_url="https://api.prismacloud.io", username="sim-access-key",
                                       password=SecretStr("sim-secret-key")),
                        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)))
    alerts = [_noise(dev_id, Environment.DEV), _noise(staging_id, Environment.STAGING), _noise(prod_id, Environment.PROD)]
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(a.alert.resource.asset_id, a) for a in alerts])
    run_request_stage(POLICY, dismisser=prisma)

    assert (sim.alerts[dev_id]["status"], sim.alerts[dev_id]["reason"]) == ("dismissed", "USER_DISMISSED")
    assert sim.alerts[dev_id]["dismissalNote"].startswith("Dismissed by Prismaflow (auto mode): known false positive")
    assert sim.alerts[staging_id]["status"] == "open" and sim.alerts[prod_id]["status"] == "open"
    records = [serde.decode(m.value() or b"", AuditRecord, topic=catalogue + AUDIT.name)
               for m in read_topic(kafka, catalogue + AUDIT.name, settle_s=0.5, timeout_s=20)]
    dismissed = [r for r in records if r.action.startswith("alert_auto_dismiss")]
    assert [(r.alert_id, r.action, r.outcome) for r in dismissed] == [(dev_id, "alert_auto_dismissed", "ok")]
    details: dict[str, Any] = json.loads(dismissed[0].details_json)
    assert details["mode"] == "auto" and details["policy_family"] == "s3_public_access" and details["reason"]
    # A likely false positive is never proposed for a fix, whatever the mode.
    assert not read_topic(kafka, catalogue + REMEDIATIONS.name, settle_s=0.5, timeout_s=5)
