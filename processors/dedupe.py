"""Dedupe: decide whether a normalised alert is new, changed, or a re-seen copy.

A pure state machine over one alert id. The Kafka layer keeps the returned :class:`DedupeEntry`
in a table keyed by ``alert_id`` (changelogged) and calls :func:`decide` once per record.

Ordering. Each entry remembers the *version* it last accepted: ``(last_seen, content_hash)``.
A record is accepted only when its version is newer; equal ``last_seen`` with a different hash is
broken by comparing hashes. So the accepted state is the maximum version seen, whatever the
arrival order, and:

* a replay (after a crash the Kafka layer re-delivers records already applied) yields DROP for
  every re-delivered record, and never reverts a status;
* an out-of-order older copy (a slow poller, a late webhook) is dropped;
* the same input sequence always produces the same decisions.

Decisions: NEW (first sight), STATUS_CHANGE (status differs: resolved, dismissed, snoozed or
reopened; wins over other changes in the same record), RECURRENCE (same status, content changed:
new CVEs, severity...), DROP (same content re-seen, or older than what was accepted).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from processors.models import Alert, AlertStatus

__all__ = ["Decision", "DedupeEntry", "decide"]


class Decision(str, Enum):
    DROP = "drop"
    NEW = "new"
    STATUS_CHANGE = "status_change"
    RECURRENCE = "recurrence"


class DedupeEntry(BaseModel):
    """What dedupe remembers about one alert id: the last accepted version and a re-seen count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    content_hash: str
    status: AlertStatus
    last_seen: datetime = Field(description="last_seen of the accepted version (the payload's time, not ours)")
    times_seen: int = Field(default=1, ge=1, description="records seen for this alert id, accepted or dropped")


def _newer(alert: Alert, entry: DedupeEntry) -> bool:
    if alert.last_seen != entry.last_seen:
        return alert.last_seen > entry.last_seen
    return alert.content_hash > entry.content_hash


def decide(previous: DedupeEntry | None, alert: Alert) -> tuple[Decision, DedupeEntry]:
    """Return the decision for ``alert`` and the entry to store for its alert id.

    Pure and total: never raises for a valid :class:`Alert`.
    """
    if previous is None:
        return Decision.NEW, DedupeEntry(
            content_hash=alert.content_hash, status=alert.status, last_seen=alert.last_seen
        )
    seen = previous.times_seen + 1
    if alert.content_hash == previous.content_hash or not _newer(alert, previous):
        # Same content re-polled (keep the later last_seen), or an older version: never revert.
        last = max(previous.last_seen, alert.last_seen) if alert.content_hash == previous.content_hash else previous.last_seen
        return Decision.DROP, previous.model_copy(update={"times_seen": seen, "last_seen": last})
    decision = Decision.STATUS_CHANGE if alert.status is not previous.status else Decision.RECURRENCE
    return decision, DedupeEntry(
        content_hash=alert.content_hash, status=alert.status, last_seen=alert.last_seen, times_seen=seen
    )
