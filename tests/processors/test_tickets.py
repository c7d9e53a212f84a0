"""The ticket lifecycle decisions: create once, update on change, resolve, reopen, and sync back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.records import TicketState, Tracker
from processors.tickets import (
    OPEN,
    RESOLVED,
    SyncAction,
    SyncPolicy,
    TicketAction,
    TicketRules,
    TrackerStatus,
    decide,
    decide_sync,
    finding_fingerprint,
    fingerprint,
    sync_hash,
)
from tests.factories import make_scored_alert

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
RULES = TicketRules()


def _scored(**overrides: object) -> ScoredAlert:
    base = make_scored_alert()
    alert_updates = {k: overrides.pop(k) for k in ("status",) if k in overrides}
    return base.model_copy(update={"alert": base.alert.model_copy(update=alert_updates), "incident_id": None,
                                   "incident_members": [], "suggested_dismissal": False, **overrides})


def _state(scored: ScoredAlert, status: str = OPEN, **overrides: object) -> TicketState:
    ids = (scored.alert.alert_id,)
    values = dict(fingerprint=fingerprint(scored), tracker=Tracker.JIRA, ticket_key="SEC-1", status=status,
                  last_synced_hash=sync_hash(scored, ids), alert_ids=list(ids), updated_at=NOW)
    values.update(overrides)
    return TicketState(**values)  # type: ignore[arg-type]


def test_a_new_high_risk_creates_a_ticket_and_a_low_one_does_not() -> None:
    assert decide(None, _scored(tier=RiskTier.HIGH, score=70), RULES, NOW).action is TicketAction.CREATE
    assert decide(None, _scored(tier=RiskTier.LOW, score=10), RULES, NOW).action is TicketAction.NONE


def test_a_suggested_dismissal_opens_no_ticket() -> None:
    assert decide(None, _scored(tier=RiskTier.CRITICAL, suggested_dismissal=True), RULES, NOW).action is TicketAction.NONE


def test_the_same_content_again_changes_nothing_and_a_new_band_updates() -> None:
    scored = _scored(tier=RiskTier.HIGH, score=70)
    assert decide(_state(scored), scored, RULES, NOW).action is TicketAction.NONE
    hotter = scored.model_copy(update={"score": 91, "tier": RiskTier.CRITICAL})
    assert decide(_state(scored), hotter, RULES, NOW).action is TicketAction.UPDATE


def test_resolution_in_prisma_resolves_and_its_return_reopens_within_the_window() -> None:
    scored = _scored(tier=RiskTier.HIGH, score=70)
    resolved = scored.model_copy(update={"alert": scored.alert.model_copy(update={"status": AlertStatus.RESOLVED})})
    assert decide(_state(scored), resolved, RULES, NOW).action is TicketAction.RESOLVE
    closed = _state(scored, RESOLVED, alert_ids=[])
    assert decide(closed, scored, RULES, NOW + timedelta(days=3)).action is TicketAction.REOPEN
    assert decide(closed, scored, RULES, NOW + timedelta(days=45)).action is TicketAction.CREATE


def test_an_incident_is_its_own_fingerprint_and_a_lone_finding_has_a_stable_one() -> None:
    lone = _scored()
    assert fingerprint(lone) == finding_fingerprint(lone) == finding_fingerprint(lone.model_copy(update={"score": 1}))
    grouped = lone.model_copy(update={"incident_id": "inc-1", "incident_members": ["P-1", "P-2"]})
    assert fingerprint(grouped) == "inc-1"


@pytest.mark.parametrize(("tracker", "prisma_open", "policy", "expected"), [
    (TrackerStatus(done=False), ("P-1",), SyncPolicy(), SyncAction.NONE),
    (TrackerStatus(done=True, resolution="Won't Do"), ("P-1",), SyncPolicy(dismiss_on_accepted_risk=True),
     SyncAction.DISMISS_IN_PRISMA),
    (TrackerStatus(done=True, resolution="Won't Do"), ("P-1",), SyncPolicy(), SyncAction.MARK_RESOLVED),
    (TrackerStatus(done=True, resolution="Done"), ("P-1",), SyncPolicy(dismiss_on_accepted_risk=True),
     SyncAction.REOPEN_TICKET),
    (TrackerStatus(done=True, resolution="Done"), (), SyncPolicy(), SyncAction.MARK_RESOLVED),
])
def test_sync_back_from_the_tracker(tracker: TrackerStatus, prisma_open: tuple[str, ...], policy: SyncPolicy,
                                    expected: SyncAction) -> None:
    action, reason = decide_sync(_state(_scored()), tracker, prisma_open, policy)
    assert action is expected and reason


# --- rollout mode gate (issue 13): monitor mode opens no ticket -----------------------------------


def test_in_monitor_mode_no_ticket_is_created_or_reopened_but_an_existing_one_is_kept_in_step() -> None:
    from processors.tickets import RESOLVED, TicketAction, TicketRules, decide
    from tests.factories import make_scored_alert

    scored = make_scored_alert()
    now = scored.scored_at
    assert decide(None, scored, TicketRules(), now).action is TicketAction.CREATE
    gated = decide(None, scored, TicketRules(), now, tickets_allowed=False)
    assert gated.action is TicketAction.NONE and gated.reason == "rollout mode monitor: no tickets"

    opened = decide(None, scored, TicketRules(), now)
    from processors.records import TicketState, Tracker
    state = TicketState(fingerprint=opened.fingerprint, tracker=Tracker.JIRA, ticket_key="SEC-1", ticket_url="",
                        status="open", last_synced_hash="stale", alert_ids=list(opened.alert_ids), updated_at=now,
                        member_risk=dict(opened.member_risk))
    assert decide(state, scored, TicketRules(), now, tickets_allowed=False).action is TicketAction.UPDATE
    resolved = state.model_copy(update={"status": RESOLVED})
    assert decide(resolved, scored, TicketRules(), now).action is TicketAction.REOPEN
    assert decide(resolved, scored, TicketRules(), now, tickets_allowed=False).action is TicketAction.NONE
