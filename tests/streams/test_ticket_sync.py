"""Bidirectional sync: a ticket closed as accepted risk dismisses its Prisma alert (when the policy
allows; off by default), and a ticket resolved while Prisma still reports the alert open is reopened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock as PrismaClock, SimConfig as PrismaConfig
from connectors.jira.sink import JiraTicketTracker
from processors.models import RiskTier, ScoredAlert
from processors.tickets import SyncAction, SyncPolicy
from streams.audit import AuditWriter, verify_audit
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.ticket_sync import TicketSyncer
from streams.topics import AUDIT
from tests.factories import make_scored_alert
from tests.streams.test_ticket_sinks import T0, _issues_per_fingerprint, _jira, _run_sink, _scored_topic_and_jira
from tests.audit_keys import TEST_KEYRING, TEST_SIGNER

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _scored_for(prisma_alert: dict[str, object], n: int) -> ScoredAlert:
    base = make_scored_alert()
    alert = base.alert.model_copy(update={
        "alert_id": str(prisma_alert["id"]),
        "resource": base.alert.resource.model_copy(update={"asset_id": f"aws:1:us-east-1:bucket/b-{n}"})})
    return base.model_copy(update={"alert": alert, "tier": RiskTier.HIGH, "score": 75, "incident_id": None,
                                   "incident_members": []})


@pytest.mark.parametrize("dismiss", [True, False], ids=["policy-on", "policy-off"])
def test_tracker_changes_flow_back(kafka: KafkaSettings, catalogue: str, unique_name: Callable[[str], str],
                                   dismiss: bool) -> None:
    serde = AvroSerde()
    prisma_clock = PrismaClock(base=lambda: T0.timestamp())
    prisma_sim = PrismaCloudSimulator(config=PrismaConfig(rate_limits=False), clock=prisma_clock, n_alerts=60)
    accepted, fixed_badly = [a for a in prisma_sim.alerts.values() if a["status"] == "open"][:2]
    records = [_scored_for(accepted, 1), _scored_for(fixed_badly, 2)]
    clock, jira_sim = _scored_topic_and_jira(kafka, serde, catalogue, records)
    settings, client = _jira(jira_sim, clock)
    _run_sink(kafka, serde, catalogue, JiraTicketTracker(settings, client()), unique_name("g"), len(records))
    assert len(_issues_per_fingerprint(jira_sim)) == 2
    keys = {issue["fields"]["summary"]: issue["key"] for issue in jira_sim.issues_json()}

    async def people_and_sync() -> dict[SyncAction, int]:
        tracker = JiraTicketTracker(settings, client())
        by_alert = {}
        for issue in jira_sim.issues_json():
            prop = issue.get("properties", {}).get(settings.property_key, {})
            by_alert[prop["alert_ids"][0]] = issue["key"]
        # A person closes one ticket as accepted risk and marks the other done without fixing it.
        for key in by_alert.values():
            assert await tracker.client.transition(key, ["Start Progress"]) is not None
        assert await tracker.client.transition(by_alert[accepted["id"]], ["Done"],
                                               fields={"resolution": {"name": "Won't Do"}}) is not None
        assert await tracker.client.transition(by_alert[fixed_badly["id"]], ["Done"]) is not None
        prisma_settings = PrismaSettings(api_url="https://api.prismacloud.io", username="sim-access-key",
                                         password=SecretStr("sim-secret-key"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=prisma_sim)) as http, \
                CspmClient(prisma_settings, client=http, clock=prisma_clock.now, sleep=prisma_clock.sleep) as prisma:
            audit = AuditWriter("sync.jira/0", kafka, serde, signer=TEST_SIGNER, topic=catalogue + AUDIT.name)
            audit.start()
            syncer = TicketSyncer(tracker, prisma, kafka, serde, policy=SyncPolicy(dismiss_on_accepted_risk=dismiss),
                                  topic_prefix=catalogue, audit=audit, clock=lambda: datetime.now(UTC))
            first = await syncer.sync_once()
            second = await syncer.sync_once()  # nothing left to do: idempotent
        await tracker.aclose()
        assert second == {}
        return first

    actions = asyncio.run(people_and_sync())
    assert actions.get(SyncAction.REOPEN_TICKET) == 1
    reopened = next(i for i in jira_sim.issues_json() if i["fields"]["status"]["statusCategory"]["key"] != "done")
    assert "still reports" in str(reopened["comments"][-1])
    if dismiss:
        assert actions.get(SyncAction.DISMISS_IN_PRISMA) == 1
        assert prisma_sim.alerts[accepted["id"]]["status"] == "dismissed"
        assert "SEC-" in str(prisma_sim.alerts[accepted["id"]].get("dismissalNote", ""))
    else:
        assert actions.get(SyncAction.MARK_RESOLVED) == 1
        assert prisma_sim.alerts[accepted["id"]]["status"] == "open"
    assert prisma_sim.alerts[fixed_badly["id"]]["status"] == "open"
    assert keys
    (report,) = [r for r in verify_audit(kafka, serde, catalogue + AUDIT.name, keyring=TEST_KEYRING) if r.chain == "sync.jira/0"]
    assert report.report.ok and report.report.checked == 2
