"""SIEM events from scored alerts: stable ids across redelivery and an Avro round trip, the
summary from the analysis or from the policy and top factor, the ticket, and the follow-up event."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from processors.models import UpdateKind
from processors.records import SiemEvent
from processors.siem import (
    SUMMARY_MAX_CHARS,
    analysis_siem_event,
    siem_event,
    siem_event_id,
)
from streams.serde import AvroSerde
from tests.factories import make_analysis, make_risk_factor, make_scored_alert


def test_event_fields_come_from_the_scored_alert() -> None:
    scored = make_scored_alert()
    event = siem_event(scored, ticket_key="SEC-1042")
    alert, resource = scored.alert, scored.alert.resource
    assert (event.alert_id, event.asset_id, event.resource_id) == (alert.alert_id, resource.asset_id, resource.resource_id)
    assert (event.module, event.severity, event.status, event.cloud) == (alert.module, alert.severity, alert.status,
                                                                         resource.cloud)
    assert (event.score, event.tier, event.event_time) == (scored.score, scored.tier, scored.scored_at)
    assert (event.account_id, event.region, event.ticket_key) == (resource.account_id, resource.region, "SEC-1042")
    assert siem_event(scored).ticket_key is None


def test_the_event_id_is_a_uuid_stable_under_redelivery_and_an_avro_round_trip() -> None:
    scored = make_scored_alert()
    event = siem_event(scored)
    assert uuid.UUID(event.event_id).version == 8 and len(event.event_id) == 36
    assert siem_event(scored).event_id == event.event_id
    serde = AvroSerde()
    back = serde.decode(serde.encode(scored, topic="prisma.alerts.scored"), type(scored), topic="prisma.alerts.scored")
    assert siem_event(back) == event
    assert serde.decode(serde.encode(event, topic="prisma.siem.events"), SiemEvent, topic="prisma.siem.events") == event


@pytest.mark.parametrize("change", [
    {"update_kind": UpdateKind.RECURRENCE},
    {"scored_at": make_scored_alert().scored_at + timedelta(milliseconds=1)},
])
def test_another_update_gets_another_id(change: dict[str, object]) -> None:
    scored = make_scored_alert()
    assert siem_event(scored.model_copy(update=change)).event_id != siem_event(scored).event_id


def test_another_alert_gets_another_id() -> None:
    scored = make_scored_alert()
    other = scored.model_copy(update={"alert": scored.alert.model_copy(update={"alert_id": "P-9"})})
    assert siem_event(other).event_id != siem_event(scored).event_id
    assert siem_event_id("P-1", "new", "x") == siem_event_id("P-1", "new", "x")


def test_summary_is_the_analysis_summary_when_there_is_one() -> None:
    scored, analysis = make_scored_alert(), make_analysis()
    assert siem_event(scored, analysis).summary == analysis.summary
    assert siem_event(scored, analysis).event_id == siem_event(scored).event_id


def test_summary_without_analysis_is_the_policy_and_the_top_factor() -> None:
    scored = make_scored_alert()
    top = max(scored.factors, key=lambda f: f.contribution)
    assert siem_event(scored).summary == f"{scored.alert.policy_name}: {top.reason}"
    assert siem_event(scored.model_copy(update={"factors": []})).summary == scored.alert.policy_name


def test_a_long_summary_is_cut_on_one_line() -> None:
    scored = make_scored_alert(factors=[make_risk_factor(reason="line\nbreak " + "x" * 3000)])
    summary = siem_event(scored).summary
    assert len(summary) == SUMMARY_MAX_CHARS and summary.endswith("…") and "\n" not in summary


def test_an_analysis_of_another_alert_is_refused() -> None:
    with pytest.raises(ValueError, match="does not belong"):
        siem_event(make_scored_alert(), make_analysis(alert_id="P-1", incident_id=None))
    # The incident's analysis serves each member.
    member = make_scored_alert()
    member = member.model_copy(update={"alert": member.alert.model_copy(update={"alert_id": "P-4712"})})
    assert siem_event(member, make_analysis()).summary == make_analysis().summary


def test_the_follow_up_event_for_an_analysis_has_its_own_stable_id_and_time() -> None:
    scored, analysis = make_scored_alert(), make_analysis()
    follow_up = analysis_siem_event(scored, analysis)
    assert follow_up.event_id != siem_event(scored).event_id
    assert follow_up.event_id == analysis_siem_event(scored, analysis).event_id
    assert (follow_up.summary, follow_up.event_time) == (analysis.summary, analysis.created_at)


async def test_the_siem_stage_names_the_ticket_once_prisma_tickets_has_one() -> None:
    from datetime import UTC, datetime

    from processors.records import TicketState, Tracker
    from processors.tickets import fingerprint
    from streams.siem import SiemTopicSink
    from streams.sink import SinkRecord
    from tests.factories import make_scored_alert

    sink = SiemTopicSink()
    scored = make_scored_alert()
    state = TicketState(fingerprint=fingerprint(scored), tracker=Tracker.JIRA, ticket_key="SEC-42", status="open",
                        last_synced_hash="h", alert_ids=[scored.alert.alert_id], updated_at=datetime.now(UTC))

    def rec(value: object, offset: int) -> SinkRecord:  # type: ignore[type-arg]
        return SinkRecord("t", 0, offset, None, value, b"")

    _, before = await sink.deliver([rec(scored, 0)])
    _, after = await sink.deliver([rec(state, 1), rec(scored, 2)])
    assert before[0].value.ticket_key is None  # type: ignore[union-attr]
    assert len(after) == 1 and after[0].value.ticket_key == "SEC-42"  # type: ignore[union-attr]
