"""The ticket sink honours the rollout policy: an alert in a ``monitor`` scope gets no ticket, one in
an ``assist`` scope does (issue 13: "in monitor mode no ticket is created")."""

from __future__ import annotations

from typing import Any

from processors.models import Environment, ScoredAlert
from processors.records import Analysis, Tracker
from processors.remediation.modes import parse_policy
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.sink import SinkRecord
from streams.tickets import TicketRef, TicketSink
from tests.factories import make_alert, make_enrichment, make_scored_alert

POLICY = parse_policy({"default": "monitor", "rules": [{"environment": "dev", "mode": "assist"}]})


class RecordingTracker:
    """A tracker that records what the sink asked of it."""

    tracker = Tracker.JIRA

    def __init__(self) -> None:
        self.created: list[str] = []

    async def find(self, fingerprint: str) -> TicketRef | None:
        return None

    async def create(self, fingerprint: str, scored: ScoredAlert, analysis: Analysis | None) -> TicketRef:
        self.created.append(scored.alert.alert_id)
        return TicketRef(f"SEC-{len(self.created)}", "", "open")

    async def update(self, ref: TicketRef, scored: ScoredAlert, note: str) -> None: ...
    async def resolve(self, ref: TicketRef, note: str) -> None: ...
    async def reopen(self, ref: TicketRef, note: str) -> TicketRef: return ref
    async def add_analysis(self, ref: TicketRef, analysis: Analysis) -> None: ...
    async def aclose(self) -> None: ...


def _scored(alert_id: str, environment: Environment) -> ScoredAlert:
    alert = make_alert(alert_id=alert_id, enrichment=make_enrichment(environment=environment))
    alert = alert.model_copy(update={"resource": alert.resource.model_copy(update={"asset_id": f"asset-{alert_id}"})})
    return make_scored_alert(alert=alert, incident_id=None, incident_members=[])


def _records(*scored: ScoredAlert) -> list[SinkRecord[Any]]:
    return [SinkRecord("prisma.alerts.scored", 0, i, None, s, b"") for i, s in enumerate(scored)]


async def test_monitor_scope_gets_no_ticket_assist_scope_does() -> None:
    tracker = RecordingTracker()
    sink = TicketSink(tracker, KafkaSettings(), AvroSerde(), rollout=POLICY)
    failures, written = await sink.deliver(_records(_scored("P-prod", Environment.PROD), _scored("P-dev", Environment.DEV)))
    assert failures == []
    assert tracker.created == ["P-dev"]
    assert [r.value.alert_ids for r in written] == [["P-dev"]]


async def test_without_a_rollout_policy_the_sink_opens_tickets_as_before() -> None:
    tracker = RecordingTracker()
    sink = TicketSink(tracker, KafkaSettings(), AvroSerde())
    await sink.deliver(_records(_scored("P-prod", Environment.PROD)))
    assert tracker.created == ["P-prod"]
