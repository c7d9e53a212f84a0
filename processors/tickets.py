"""The ticket lifecycle, as pure decisions: one ticket per risk, created once, kept in step.

A *fingerprint* names the risk a ticket tracks: the correlated incident when a finding belongs to
one, else the finding itself (module, policy, canonical asset, account). :func:`decide` compares the
last synced :class:`TicketState` with a new scored alert and says what the tracker needs: create,
update (priority change, new members, recurrence), resolve (Prisma reports every tracked alert
resolved or dismissed), reopen (it came back within the reopen window) or nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.records import TicketState

__all__ = ["TicketAction", "TicketRules", "TicketDecision", "finding_fingerprint", "fingerprint", "sync_hash",
           "decide", "OPEN", "RESOLVED", "SyncAction", "SyncPolicy", "TrackerStatus", "decide_sync"]

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


@dataclass(frozen=True)
class TicketDecision:
    action: TicketAction
    fingerprint: str
    reason: str
    alert_ids: tuple[str, ...] = ()


def finding_fingerprint(scored: ScoredAlert) -> str:
    """The fingerprint of one finding: module, policy, canonical asset and account."""
    a = scored.alert
    raw = "|".join((a.module.value, a.policy_id, a.resource.asset_id, a.resource.account_id))
    return "f-" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def fingerprint(scored: ScoredAlert) -> str:
    """The incident when the finding is correlated, else the finding."""
    if scored.incident_id and len(scored.incident_members) >= 2:
        return scored.incident_id
    return finding_fingerprint(scored)


def sync_hash(scored: ScoredAlert, alert_ids: tuple[str, ...]) -> str:
    """What a ticket shows that can change: tier, rounded score band and the members."""
    band = scored.score // 10
    raw = f"{scored.tier.value}|{band}|{','.join(sorted(alert_ids))}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _open(status: AlertStatus) -> bool:
    return status in (AlertStatus.OPEN, AlertStatus.SNOOZED)


def decide(state: TicketState | None, scored: ScoredAlert, rules: TicketRules, now: datetime) -> TicketDecision:
    """What the tracker needs for ``scored``, given what was last synced for its fingerprint."""
    fp = fingerprint(scored)
    alert = scored.alert
    tracked = set(state.alert_ids) if state else set()
    if _open(alert.status):
        tracked.add(alert.alert_id)
    else:
        tracked.discard(alert.alert_id)
    ids = tuple(sorted(tracked))
    if state is None:
        if _open(alert.status) and _TIER_ORDER[scored.tier] >= _TIER_ORDER[rules.min_tier] \
                and not scored.suggested_dismissal:
            return TicketDecision(TicketAction.CREATE, fp, f"new {scored.tier.value} risk", ids)
        return TicketDecision(TicketAction.NONE, fp, "below the ticket tier, closed, or suggested for dismissal", ids)
    if state.status == RESOLVED:
        if not _open(alert.status):
            return TicketDecision(TicketAction.NONE, fp, "already resolved", ids)
        if now - state.updated_at <= timedelta(days=rules.reopen_within_days):
            return TicketDecision(TicketAction.REOPEN, fp, f"{alert.alert_id} is open again", ids)
        return TicketDecision(TicketAction.CREATE, fp, "came back after the reopen window: a new ticket", ids)
    if not ids:
        return TicketDecision(TicketAction.RESOLVE, fp, f"Prisma Cloud reports {alert.alert_id} {alert.status.value}", ids)
    if sync_hash(scored, ids) != state.last_synced_hash:
        return TicketDecision(TicketAction.UPDATE, fp, "priority or members changed", ids)
    return TicketDecision(TicketAction.NONE, fp, "nothing new", ids)


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
