"""Re-emitting an incident's members when the incident forms or changes.

A member scored before its incident formed went downstream without the incident id; when a
member joins or leaves, the others' ``incident_members`` are stale. So whenever an asset's
incident changes (formed, members joined or left, ended), every remaining member is scored again
against the new incident and re-emitted with ``incident_update=True`` and update kind
``recurrence``: the finding did not change, what it belongs to did. The ticket sink then files
each member under the incident's ticket, the SIEM sees the grouping, and the member list is
current everywhere.

The members' alerts are the ones the stream core kept for them (``ScoringState.member``); a
member whose alert is not kept (state written before this existed) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from processors.correlate import AssetState, CorrelationResult, finding_key, incident_of
from processors.models import Alert, AlertStatus, ScoredAlert, UpdateKind
from processors.score import DismissalHistory, ScoringPolicy, score

__all__ = ["incident_changed", "leaving", "member_keys", "reemit"]


def member_keys(state: AssetState | None) -> frozenset[str]:
    """The finding keys of ``state``'s incident members; empty without an incident."""
    if state is None or state.incident_id is None:
        return frozenset()
    return frozenset(finding_key(f.asset_id, f.alert_id) for f in state.findings)


def incident_changed(before: AssetState | None, after: AssetState | None) -> bool:
    """Whether the incident formed, ended, or gained or lost a member."""
    b_id = before.incident_id if before else None
    a_id = after.incident_id if after else None
    return b_id != a_id or member_keys(before) != member_keys(after)


def leaving(scored: ScoredAlert, before: AssetState | None, after: AssetState | None, key: str) -> ScoredAlert:
    """``scored`` (a member that closed) marked with the incident it leaves, so a ticket tracking the
    incident drops it instead of resolving a ticket of its own; unchanged when it was no member."""
    if before is None or before.incident_id is None or key not in member_keys(before):
        return scored
    if after is not None and after.incident_id == before.incident_id:
        remaining = [f.alert_id for f in after.findings]
    else:
        remaining = [f.alert_id for f in before.findings if finding_key(f.asset_id, f.alert_id) != key]
    return scored.model_copy(update={"incident_id": before.incident_id, "incident_members": remaining})


def _reshaped(before: AssetState | None, after: AssetState, result: CorrelationResult | None,
              policy: ScoringPolicy) -> bool:
    """Whether the incident formed, or its risk (what scores its members) changed."""
    if before is None or before.incident_id != after.incident_id:
        return True
    earlier = incident_of(before, policy.correlation)
    return earlier is None or result is None or earlier.cross_module != result.cross_module


def reemit(
    before: AssetState | None,
    after: AssetState | None,
    alerts: Mapping[str, Alert],
    history: DismissalHistory,
    policy: ScoringPolicy,
    now: datetime,
    *,
    skip: str | None = None,
    force: str | None = None,
) -> list[ScoredAlert]:
    """The members to re-emit after ``before`` became ``after``; ``skip``: a key already emitted.

    With an incident in ``after``, its members; when the incident ended, the members that remain
    open, without an incident. ``force``: a member re-emitted even when membership is unchanged
    (a neighbour's finding that changed while in the incident).
    """
    changed = incident_changed(before, after)
    if not changed and force is None:
        return []
    if after is not None and after.incident_id is not None:
        keys = [finding_key(f.asset_id, f.alert_id) for f in after.findings]
        result = incident_of(after, policy.correlation)
        if not changed:
            keys = [k for k in keys if k == force]
        elif policy.correlation.graph.reemit_members == "changed" and not _reshaped(before, after, result, policy):
            # Only the member list changed for the members already in: re-emit those joining.
            was = member_keys(before)
            keys = [k for k in keys if k not in was or k == force]
    elif before is not None and before.incident_id is not None and after is not None:
        was = member_keys(before)
        keys = [finding_key(f.asset_id, f.alert_id) for f in after.findings
                if finding_key(f.asset_id, f.alert_id) in was]
        result = None
    else:
        return []
    out: list[ScoredAlert] = []
    for key in keys:
        alert = alerts.get(key)
        if key == skip or alert is None or alert.status is not AlertStatus.OPEN:
            continue
        scored = score(alert, result, history, policy, now, update_kind=UpdateKind.RECURRENCE)
        out.append(scored.model_copy(update={"incident_update": True}))
    return out
