"""Dismissing known false positives in auto mode: whether Prismaflow may dismiss an alert in Prisma Cloud.

The scorer marks an alert ``suggested_dismissal`` when the history says people dismissed the same
finding before (rubric gate G2, known noise). The issue's third rollout phase lets ``auto`` act on that:
:func:`decide_dismissal` says whether the remediation-request stage may dismiss it through Prisma
Cloud's ``POST /alert/dismiss``. Only when all hold:

- the alert is open, suggested for dismissal, and its own record (not an incident member re-emitted);
- its rollout mode (:func:`processors.remediation.modes.mode_for`) is ``auto`` — never ``assist`` or
  ``monitor``;
- its policy family (:meth:`FamilyCatalog.classify`) is in the policy's ``auto_dismiss`` list;
- its environment is a known non-production one (dev, test, staging), as for auto fixes.

Pure (no I/O): the stage calls Prisma Cloud and writes the audit record with :attr:`DismissalVerdict.reason`.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.models import AlertStatus, Environment, ScoredAlert
from processors.records import RolloutMode
from processors.remediation.families import FamilyCatalog
from processors.remediation.modes import RolloutPolicy, mode_for

__all__ = ["DismissalVerdict", "decide_dismissal", "dismissal_note"]

_NON_PRODUCTION = (Environment.DEV, Environment.TEST, Environment.STAGING)
_NOTE_CHARS = 500


@dataclass(frozen=True)
class DismissalVerdict:
    """Whether to dismiss a suggested-dismissal alert, and why (the audit record's reason)."""

    dismiss: bool
    reason: str
    mode: RolloutMode
    family: str | None


def decide_dismissal(scored: ScoredAlert, families: FamilyCatalog, policy: RolloutPolicy) -> DismissalVerdict | None:
    """The verdict for a suggested-dismissal alert; None for any other alert (nothing to decide)."""
    alert = scored.alert
    if not scored.suggested_dismissal or scored.incident_update or alert.status is not AlertStatus.OPEN:
        return None
    mode = mode_for(alert, policy)
    family = families.classify(alert)
    name = family.name if family is not None else None
    if mode is not RolloutMode.AUTO:
        return DismissalVerdict(False, f"{mode.value} mode: suggested only", mode, name)
    if name is None or name not in policy.auto_dismiss:
        return DismissalVerdict(False, f"family {name or '(none)'} is not in the policy's auto_dismiss list", mode, name)
    if alert.enrichment.environment not in _NON_PRODUCTION:
        return DismissalVerdict(False, f"environment {alert.enrichment.environment.value}: only non-production "
                                       "alerts are dismissed automatically", mode, name)
    return DismissalVerdict(True, "auto mode: known false positive from history, family allowlisted for dismissal",
                            mode, name)


def dismissal_note(scored: ScoredAlert) -> str:
    """The dismissal note Prisma Cloud shows: who dismissed it and the history's reason, capped."""
    why = " ".join(scored.suggestion_reason.split()) or "dismissed before"
    note = f"Dismissed by Prismaflow (auto mode): known false positive from history: {why}"
    return note if len(note) <= _NOTE_CHARS else note[: _NOTE_CHARS - 1] + "…"
