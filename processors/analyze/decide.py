"""What our code decides, never the model: priority, its justification and the approval path.

Priority follows the scoring tier (:func:`priority_for`), so no text inside an alert can raise or
lower it through the model; the model may only explain it. The approval path comes from the matched
playbook's per-environment rules, or :data:`DEFAULT_APPROVAL` when no playbook applies.
"""

from __future__ import annotations

from processors.analyze.playbook import Playbook
from processors.models import Environment, RiskTier, ScoredAlert
from processors.records import Priority

__all__ = ["DEFAULT_APPROVAL", "TIER_PRIORITY", "approval_path_for", "justification_for", "priority_for"]

TIER_PRIORITY: dict[RiskTier, Priority] = {
    RiskTier.CRITICAL: Priority.P1,
    RiskTier.HIGH: Priority.P2,
    RiskTier.MEDIUM: Priority.P3,
    RiskTier.LOW: Priority.P4,
}

DEFAULT_APPROVAL: dict[Environment, str] = {
    Environment.DEV: "asset owner approval",
    Environment.TEST: "asset owner approval",
    Environment.STAGING: "asset owner approval",
    Environment.PROD: "asset owner, then security on-call (change ticket)",
    Environment.UNKNOWN: "asset owner, then security on-call",
}


def priority_for(scored: ScoredAlert) -> Priority:
    """P1 for a critical tier, P2 high, P3 medium, P4 low."""
    return TIER_PRIORITY[scored.tier]


def justification_for(scored: ScoredAlert, priority: Priority) -> str:
    """A plain sentence naming the tier, the score and the strongest scoring factors."""
    factors = sorted(scored.factors, key=lambda f: f.contribution, reverse=True)[:3]
    reasons = "; ".join(f"{f.reason} (+{f.contribution:g})" for f in factors if f.contribution > 0)
    text = f"{priority.value}: risk tier {scored.tier.value}, score {scored.score}/100"
    if reasons:
        text += f", driven by {reasons}"
    if scored.incident_id:
        text += f"; part of incident {scored.incident_id} with {len(scored.incident_members)} findings"
    return text + "."


def approval_path_for(environment: Environment, playbook: Playbook | None) -> str:
    """Who approves the fix in ``environment``: the playbook's rule, else the default rule."""
    if playbook is not None:
        path = playbook.approval_for(environment)
        if path:
            return path
    return DEFAULT_APPROVAL[environment]
