"""The shadow report: what the configured rollout mode did to each alert, and what the next stricter and
the next looser mode would have done on the same traffic.

Pure: it takes the scored alerts (and the plans proposed for them) and returns counts and examples
per variant; :mod:`streams.remediation.shadow` reads the topics and prints it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.models import AlertStatus, RiskTier, ScoredAlert
from processors.remediation.modes import ModeAction, RolloutPolicy, decide_mode, looser, mode_for, stricter
from processors.remediation.plan import RemediationPlan

__all__ = ["VARIANTS", "ShadowCounts", "shadow_report"]

VARIANTS = ("configured", "stricter", "looser")
_TIERS = (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL)
_EXAMPLES = 3


@dataclass
class ShadowCounts:
    """What one variant did: alerts seen, tickets, approval requests, automatic runs, with examples."""

    alerts: int = 0
    tickets: int = 0
    approval_requests: int = 0
    auto_runs: int = 0
    examples: dict[str, list[str]] = field(default_factory=lambda: {"tickets": [], "approval_requests": [],
                                                                     "auto_runs": []})

    def add(self, what: str, alert_id: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        if len(self.examples[what]) < _EXAMPLES:
            self.examples[what].append(alert_id)

    def as_json(self) -> dict[str, Any]:
        return {"alerts": self.alerts, "tickets": self.tickets, "approval_requests": self.approval_requests,
                "auto_runs": self.auto_runs, "examples": self.examples}


def shadow_report(scored: Iterable[ScoredAlert], plans: Mapping[str, RemediationPlan], policy: RolloutPolicy, *,
                  ticket_min_tier: RiskTier = RiskTier.HIGH) -> dict[str, ShadowCounts]:
    """Counts per variant over the latest record of each alert (``plans`` by alert id).

    A ticket counts where the mode allows tickets and the ticket lifecycle would open one (open alert,
    at least ``ticket_min_tier``, not suggested for dismissal). A mode with no stricter (monitor) or
    looser (auto) neighbour counts as itself.
    """
    latest: dict[str, ScoredAlert] = {}
    for record in scored:
        latest[record.alert.alert_id] = record
    report = {variant: ShadowCounts() for variant in VARIANTS}
    for alert_id, record in sorted(latest.items()):
        configured = mode_for(record.alert, policy)
        modes = {"configured": configured, "stricter": stricter(configured) or configured,
                 "looser": looser(configured) or configured}
        ticketable = (record.alert.status in (AlertStatus.OPEN, AlertStatus.SNOOZED) and not record.suggested_dismissal
                      and _TIERS.index(record.tier) >= _TIERS.index(ticket_min_tier))
        for variant, mode in modes.items():
            outcome = decide_mode(record, plans.get(alert_id), policy, mode=mode)
            counts = report[variant]
            counts.alerts += 1
            if outcome.tickets and ticketable:
                counts.add("tickets", alert_id)
            if outcome.action is ModeAction.REQUEST_APPROVAL:
                counts.add("approval_requests", alert_id)
            elif outcome.action is ModeAction.AUTO_RUN:
                counts.add("auto_runs", alert_id)
    return report
