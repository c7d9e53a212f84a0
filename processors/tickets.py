"""The ticket lifecycle, as pure decisions: one ticket per risk, created once, kept in step.

A *fingerprint* names the risk a ticket tracks: the correlated incident when a finding belongs to
one, else the finding itself (module, policy, canonical asset, account). :func:`decide` compares the
last synced :class:`TicketState` with a new scored alert and says what the tracker needs: create,
update (priority change, new members, recurrence), resolve (Prisma reports every tracked alert
resolved or dismissed), reopen (it came back within the reopen window) or nothing.

A ticket's priority is its worst open alert's: each tracked alert keeps the highest score (and
its tier) it has had while open (``TicketState.member_risk``), and the ticket shows the highest of
those. So an incident's ticket does not flip down and up as its members are scored one after
another, and never drops while the alert that raised it is open; it drops when that alert closes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.records import MemberRisk, TicketState

__all__ = ["TicketAction", "TicketRules", "TicketDecision", "finding_fingerprint", "fingerprint", "sync_hash",
           "decide", "is_incident_fingerprint", "OPEN", "RESOLVED", "SyncAction", "SyncPolicy", "TrackerStatus", "decide_sync"]

OPEN = "open"
RESOLVED = "resolved"
_TIER_ORDER = {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2, RiskTier.CRITICAL: 3}


class TicketAction(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    NONE = "none"


class TicketRules(BaseModel):
    """When tickets are opened and what happens when a resolved risk comes back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_tier: RiskTier = Field(default=RiskTier.HIGH, description="Tickets are opened from this tier up")
    reopen_within_days: int = Field(
        default=30, ge=0, description="A risk back within this many days of resolution reopens its ticket; later, a new one")
    analysis_wait_s: float = Field(
        default=60.0, ge=0, description="How long a new ticket waits for the analysis the analysis stage will write for "
                                        "its alert, so that the ticket is created with the analysis in its body; "
                                        "after it, the ticket is created without and the analysis follows as a "
                                        "comment. 0: never wait (no analysis stage runs)")


@dataclass(frozen=True)
class TicketDecision:
    """What the tracker needs, and what the ticket shows after it: its tracked alerts and the
    priority (``tier``, ``score``) of the worst of them while open."""

    action: TicketAction
    fingerprint: str
    reason: str
    alert_ids: tuple[str, ...] = ()
    tier: RiskTier = RiskTier.LOW
    score: int = 0
    member_risk: Mapping[str, MemberRisk] = field(default_factory=dict)


def finding_fingerprint(scored: ScoredAlert) -> str:
    """The fingerprint of one finding: module, policy, canonical asset and account."""
    a = scored.alert
    raw = "|".join((a.module.value, a.policy_id, a.resource.asset_id, a.resource.account_id))
    return "f-" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def is_incident_fingerprint(fp: str) -> bool:
    """Whether a fingerprint names an incident (``inc-…``) rather than one finding (``f-…``)."""
    return fp.startswith("inc-")


def fingerprint(scored: ScoredAlert) -> str:
    """The incident when the finding is correlated (or is leaving one, closed), else the finding."""
    if scored.incident_id:
        return scored.incident_id
    return finding_fingerprint(scored)


def sync_hash(scored: ScoredAlert, alert_ids: tuple[str, ...], tier: RiskTier | None = None,
              score: int | None = None) -> str:
    """What a ticket shows that can change: tier, rounded score band and the members.

    ``tier`` and ``score`` are the ticket's (its worst open alert's, see :func:`decide`); without
    them, ``scored``'s own.
    """
    band = (scored.score if score is None else score) // 10
    raw = f"{(tier or scored.tier).value}|{band}|{','.join(sorted(alert_ids))}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _worse(a: MemberRisk, b: MemberRisk) -> bool:
    return (_TIER_ORDER[a.tier], a.score) > (_TIER_ORDER[b.tier], b.score)


def _risks(state: TicketState | None, scored: ScoredAlert, tracked: set[str]) -> dict[str, MemberRisk]:
    """Each tracked open alert's highest risk while open, with ``scored`` folded in."""
    risks = {k: v for k, v in (state.member_risk if state else {}).items() if k in tracked}
    alert_id = scored.alert.alert_id
    if alert_id in tracked:
        mine = MemberRisk(score=scored.score, tier=scored.tier)
        held = risks.get(alert_id)
        risks[alert_id] = mine if held is None or _worse(mine, held) else held
    return risks


def _open(status: AlertStatus) -> bool:
    return status in (AlertStatus.OPEN, AlertStatus.SNOOZED)


def decide(state: TicketState | None, scored: ScoredAlert, rules: TicketRules, now: datetime, *,
           fingerprint_: str | None = None, tickets_allowed: bool = True) -> TicketDecision:
    """What the tracker needs for ``scored``, given what was last synced for its fingerprint.

    ``fingerprint_``: the ticket ``scored`` is filed under when the sink routes it elsewhere than
    its own fingerprint (a finding an incident's ticket tracks); default :func:`fingerprint`.
    ``tickets_allowed``: False in rollout mode ``monitor`` (:mod:`processors.remediation.modes`):
    no ticket is created or reopened; one that exists is still kept in step.
    """
    fp = fingerprint_ or fingerprint(scored)
    alert = scored.alert
    tracked = set(state.alert_ids) if state else set()
    if _open(alert.status):
        tracked.add(alert.alert_id)
    else:
        tracked.discard(alert.alert_id)
    ids = tuple(sorted(tracked))
    if state is not None and state.status == RESOLVED:
        tracked = {alert.alert_id} if _open(alert.status) else set()  # a reopened ticket starts over
    risks = _risks(state if state is None or state.status != RESOLVED else None, scored, tracked)
    top = max(risks.values(), key=lambda r: (_TIER_ORDER[r.tier], r.score), default=None) \
        or MemberRisk(score=scored.score, tier=scored.tier)

    def out(action: TicketAction, reason: str) -> TicketDecision:
        return TicketDecision(action, fp, reason, ids, top.tier, top.score, risks)

    if not tickets_allowed and (state is None or state.status == RESOLVED):
        return out(TicketAction.NONE, "rollout mode monitor: no tickets")
    if state is None:
        if _open(alert.status) and _TIER_ORDER[scored.tier] >= _TIER_ORDER[rules.min_tier] \
                and not scored.suggested_dismissal:
            return out(TicketAction.CREATE, f"new {scored.tier.value} risk")
        return out(TicketAction.NONE, "below the ticket tier, closed, or suggested for dismissal")
    if state.status == RESOLVED:
        if not _open(alert.status):
            return out(TicketAction.NONE, "already resolved")
        if now - state.updated_at <= timedelta(days=rules.reopen_within_days):
            return out(TicketAction.REOPEN, f"{alert.alert_id} is open again")
        return out(TicketAction.CREATE, "came back after the reopen window: a new ticket")
    if not ids:
        return out(TicketAction.RESOLVE, f"Prisma Cloud reports {alert.alert_id} {alert.status.value}")
    if sync_hash(scored, ids, top.tier, top.score) != state.last_synced_hash:
        return out(TicketAction.UPDATE, "priority or members changed")
    return out(TicketAction.NONE, "nothing new")


# --- Bidirectional sync: what people did in the tracker -------------------------------------------


class SyncAction(str, Enum):
    NONE = "none"
    DISMISS_IN_PRISMA = "dismiss_in_prisma"
    REOPEN_TICKET = "reopen_ticket"
    MARK_RESOLVED = "mark_resolved"


class SyncPolicy(BaseModel):
    """How Prismaflow answers a person's change in the tracker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dismiss_on_accepted_risk: bool = Field(
        default=False, description="Dismiss the Prisma alerts of a ticket closed as accepted risk / won't fix")
    accepted_risk_resolutions: frozenset[str] = Field(
        default=frozenset({"won't do", "won't fix", "accepted risk", "risk accepted"}),
        description="Tracker resolutions / close codes (lower case) that mean the risk is accepted")


@dataclass(frozen=True)
class TrackerStatus:
    """A ticket as the tracker shows it now."""

    done: bool
    resolution: str = ""


def decide_sync(state: TicketState, tracker: TrackerStatus, prisma_open_ids: tuple[str, ...],
                policy: SyncPolicy) -> tuple[SyncAction, str]:
    """What to do about a ticket a person changed: ``prisma_open_ids`` are the ticket's alerts that
    Prisma Cloud reports open right now."""
    if not tracker.done or state.status != OPEN:
        return SyncAction.NONE, "no change by a person"
    accepted = tracker.resolution.strip().lower() in policy.accepted_risk_resolutions
    if accepted and prisma_open_ids:
        if policy.dismiss_on_accepted_risk:
            return SyncAction.DISMISS_IN_PRISMA, f"closed as {tracker.resolution!r}"
        return SyncAction.MARK_RESOLVED, f"closed as {tracker.resolution!r}; dismissal in Prisma is off by policy"
    if prisma_open_ids:
        return SyncAction.REOPEN_TICKET, f"resolved in the tracker but Prisma Cloud still reports {', '.join(prisma_open_ids)} open"
    return SyncAction.MARK_RESOLVED, "resolved in the tracker and in Prisma Cloud"
