"""The chat sink end to end through the real broker: only top-tier open risks are notified, once
per fingerprint (an incident's members share one), with the ticket link when ``prisma.tickets``
knows the ticket and the approval page; a restart (a new consumer group replaying everything)
posts nothing again because the notifications are read back from the audit trail; Teams gets an
Adaptive Card; a body the webhook refuses is dead-lettered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, SecretStr

from connectors.base import RetryPolicy
from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.sink import ChatWebhookNotifier
from connectors.slack.simulator import ChatWebhookSimulator, Fault
from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.records import DeadLetter, TicketState, Tracker
from processors.tickets import fingerprint
from streams.audit import AuditWriter, verify_audit
from streams.chat import ChatSink
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, DLQ, SCORED_ALERTS, TICKETS
from tests.factories import make_scored_alert
from tests.kafka_helpers import produce_models, read_topic
from tests.streams.test_siem_sinks import run_sink
from tests.audit_keys import TEST_KEYRING, TEST_SIGNER

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SIM = "http://chat.sim"
APPROVALS = "https://prismaflow.example.com/approvals"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _alert(i: int, tier: RiskTier, *, incident: str | None = None, members: list[str] | None = None,
           status: AlertStatus = AlertStatus.OPEN, seconds: int = 0) -> ScoredAlert:
    base = make_scored_alert()
    alert = base.alert.model_copy(update={
        "alert_id": f"P-60{i:02d}", "status": status,
        "resource": base.alert.resource.model_copy(update={"asset_id": f"aws:1:eu-west-1:i-{i:04d}",
                                                           "resource_id": f"i-{i:04d}"})})
    return base.model_copy(update={"alert": alert, "tier": tier, "score": 92 if tier is RiskTier.CRITICAL else 70,
                                   "incident_id": incident, "incident_members": members or [],
                                   "scored_at": T0 + timedelta(seconds=seconds)})


def _stream() -> tuple[list[ScoredAlert], dict[str, str]]:
    """Scored records and the fingerprints that must be notified, each with its ticket URL or ''."""
    ticketed = _alert(1, RiskTier.CRITICAL)
    recurrence = ticketed.model_copy(update={"scored_at": T0 + timedelta(minutes=5), "score": 97})
    member_a = _alert(2, RiskTier.CRITICAL, incident="inc-1", members=["P-6002", "P-6003"])
    member_b = _alert(3, RiskTier.CRITICAL, incident="inc-1", members=["P-6002", "P-6003"], seconds=1)
    high = _alert(4, RiskTier.HIGH)
    resolved = _alert(5, RiskTier.CRITICAL, status=AlertStatus.RESOLVED)
    records = [ticketed, high, member_a, recurrence, resolved, member_b]
    return records, {fingerprint(ticketed): "https://sim.atlassian.net/browse/SEC-7", "inc-1": ""}


def _tickets(records: list[ScoredAlert]) -> list[tuple[str, BaseModel]]:
    state = TicketState(fingerprint=fingerprint(records[0]), tracker=Tracker.JIRA, ticket_key="SEC-7",
                        ticket_url="https://sim.atlassian.net/browse/SEC-7", status="open", last_synced_hash="h",
                        alert_ids=[records[0].alert.alert_id], updated_at=T0)
    return [(f"jira:{state.fingerprint}", state)]


def _sink(sim: ChatWebhookSimulator, kafka: KafkaSettings, serde: AvroSerde, catalogue: str, *,
          kind: ChatKind = ChatKind.SLACK, audit: bool = True) -> ChatSink:
    path = f"/services/{sim.slack_path}" if kind is ChatKind.SLACK else sim.teams_path
    settings = ChatWebhookSettings(kind=kind, url=SecretStr(SIM + path),
                                   retry=RetryPolicy(max_attempts=2, base_delay_s=0, max_delay_s=0))
    client = ChatWebhookClient(settings, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)))
    writer = AuditWriter(f"{catalogue}sink.chat/0", kafka, serde, signer=TEST_SIGNER, topic=catalogue + AUDIT.name) if audit else None
    return ChatSink(ChatWebhookNotifier(settings, client=client), kafka, serde, topic_prefix=catalogue,
                    approval_base_url=APPROVALS, audit=writer)


def _buttons(body: dict[str, Any]) -> dict[str, str]:
    actions = [b for b in body["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e["url"] for block in actions for e in block["elements"]}


def _produce_stream(kafka: KafkaSettings, serde: AvroSerde,
                    catalogue: str) -> tuple[list[ScoredAlert], dict[str, str], dict[str, int]]:
    """Write :func:`_stream`'s records and tickets to the catalogue; returns the records, the
    notifications due and how many records each topic got (what the sink must commit)."""
    records, due = _stream()
    produce_models(kafka, serde, catalogue + TICKETS.name, _tickets(records))
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(r.alert.resource.asset_id, r) for r in records])
    return records, due, {catalogue + SCORED_ALERTS.name: len(records), catalogue + TICKETS.name: 1}


def test_only_top_tier_once_per_fingerprint_with_ticket_and_approval_links_and_not_again_after_a_restart(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    sim = ChatWebhookSimulator(rate_per_s=None)
    records, due, expect = _produce_stream(kafka, serde, catalogue)
    run_sink(kafka, serde, _sink(sim, kafka, serde, catalogue), group=unique_name("chat"), dlq_topic=catalogue + DLQ.name,
             expect=expect)

    assert len(sim.messages) == len(due) == 2
    by_alert = {m["body"]["blocks"][-2]["elements"][0]["text"]: m["body"] for m in sim.messages}  # context: "Alert P-…"
    ticketed = by_alert["Alert P-6001"]
    assert _buttons(ticketed) == {"open_ticket": due[fingerprint(records[0])],
                                  "review_fix": f"{APPROVALS}/P-6001"}
    assert "CRITICAL 92" in ticketed["blocks"][0]["text"]["text"]  # the first record, not the recurrence
    incident = next(body for text, body in by_alert.items() if text in ("Alert P-6002", "Alert P-6003"))
    assert set(_buttons(incident)) == {"review_fix"}  # no ticket known for the incident
    assert not read_topic(kafka, catalogue + DLQ.name, settle_s=0.3, timeout_s=5)

    # A restart that replays everything (a new group) posts nothing: notifications are on the audit trail.
    run_sink(kafka, serde, _sink(sim, kafka, serde, catalogue), group=unique_name("chat"), dlq_topic=catalogue + DLQ.name,
             expect=expect)
    assert len(sim.messages) == 2
    (report,) = verify_audit(kafka, serde, catalogue + AUDIT.name, keyring=TEST_KEYRING)
    assert report.report.ok and report.report.checked == 2


def test_teams_gets_an_adaptive_card_and_a_refused_body_is_dead_lettered(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
) -> None:
    sim = ChatWebhookSimulator(rate_per_s=None)
    records, due, expect = _produce_stream(kafka, serde, catalogue)
    sim.faults.append(Fault(kind="answer", route="teams", status=400, body="bad request", count=1))
    run_sink(kafka, serde, _sink(sim, kafka, serde, catalogue, kind=ChatKind.TEAMS, audit=False),
             group=unique_name("chat"), dlq_topic=catalogue + DLQ.name, expect=expect)

    # The first notification due was refused (400) and dead-lettered. Its fingerprint was not marked
    # notified, so the next record of that risk (each has two here) was notified instead.
    assert len(sim.messages) == len(due) and not sim.render_failures
    for message in sim.messages:
        assert message["body"]["type"] == "message"
        assert message["body"]["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    (letter,) = [serde.decode(m.value(), DeadLetter, topic=catalogue + DLQ.name)
                 for m in read_topic(kafka, catalogue + DLQ.name, expect=1, settle_s=0.3)]
    assert letter.stage == "sink.chat.teams" and letter.error_class == "BadRequestError"
    assert "bad request" in letter.error_message
    assert "sig=" not in letter.error_message and "sim-signature" not in letter.error_message
    assert letter.original_topic == catalogue + SCORED_ALERTS.name
