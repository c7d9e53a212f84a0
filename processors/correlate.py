"""Cross-module correlation: findings on one asset within a time window form one incident.

State is per asset id (the key of ``prisma.alerts``), so the Kafka layer keeps one
:class:`AssetState` per asset in a changelogged table and calls :func:`correlate` per record.

* Open findings seen within ``window`` (default 24 h) before ``now`` are members; a finding that
  resolves, is dismissed or snoozed, or is not seen again within the window leaves.
* Two or more members make an incident. Its id is fixed when it forms, from the asset id and
  the two founding alert ids (sorted), and kept while members join and leave, so it is stable
  across replays and membership changes; the same pair re-forming gets the same id again, so a
  ticket sink finds its ticket. Fewer than two members end it.
* An incident is *cross-module* when its members come from two or more modules, or when their
  traits cover a configured risky combination (default: internet exposure + IAM
  over-permission + exploitable CVE).
* At most ``max_findings_per_asset`` findings are kept (most recently seen win).

``now`` should come from the record (its timestamp or ``ingested_at``), not the wall clock, so
a replay reproduces the same state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from processors.models import Alert, AlertStatus, Module, Severity

__all__ = [
    "AssetState",
    "CorrelationResult",
    "CorrelationSettings",
    "Finding",
    "Trait",
    "correlate",
    "traits_of",
]

Trait = Literal["exposure", "iam", "exploitable"]


def _default_combinations() -> list[list[Trait]]:
    return [["exposure", "iam", "exploitable"]]


class CorrelationSettings(BaseModel):
    """Correlation knobs; loaded as the ``correlation`` section of the scoring policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_hours: float = Field(default=24.0, gt=0)
    max_findings_per_asset: int = Field(default=200, ge=2)
    exploitable_epss: float = Field(default=0.1, ge=0, le=1, description="EPSS from which a CVE counts as exploitable")
    risky_combinations: list[list[Trait]] = Field(default_factory=_default_combinations)

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)


class Finding(BaseModel):
    """One open finding on the asset, as correlation remembers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    module: Module
    policy_id: str
    policy_name: str = ""
    severity: Severity
    last_seen: datetime = Field(description="when this finding was last observed (the caller's now)")
    traits: tuple[Trait, ...] = ()


class AssetState(BaseModel):
    """Correlation state of one asset: its open findings and the incident they form, if any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_id: str
    findings: tuple[Finding, ...] = ()
    incident_id: str | None = None


@dataclass(frozen=True, slots=True)
class CorrelationResult:
    """What correlation says about the alert just processed."""

    incident_id: str | None
    members: tuple[str, ...]
    modules: frozenset[Module]
    cross_module: bool
    reason: str
    traits: frozenset[Trait] = frozenset()  # union of the members' traits (asset facts other findings showed)


def traits_of(alert: Alert, settings: CorrelationSettings) -> tuple[Trait, ...]:
    """The risk traits a finding brings to its asset's incident."""
    out: list[Trait] = []
    if alert.enrichment.internet_exposed:
        out.append("exposure")
    if alert.module is Module.CIEM or alert.policy_type == "iam":
        out.append("iam")
    if alert.enrichment.in_kev or (alert.vulnerabilities and alert.enrichment.exploitability >= settings.exploitable_epss):
        out.append("exploitable")
    return tuple(out)


def _incident_id(asset_id: str, founders: tuple[str, str]) -> str:
    text = "\x1f".join((asset_id, *sorted(founders)))
    return "inc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def correlate(
    state: AssetState | None,
    alert: Alert,
    now: datetime,
    window: timedelta | None = None,
    settings: CorrelationSettings | None = None,
) -> tuple[CorrelationResult, AssetState]:
    """Fold ``alert`` into its asset's state; return the result for this alert and the new state."""
    cfg = settings or CorrelationSettings()
    asset_id = alert.resource.asset_id
    if state is None or state.asset_id != asset_id:
        state = AssetState(asset_id=asset_id)
    cutoff = now - (window if window is not None else cfg.window)
    kept = [f for f in state.findings if f.alert_id != alert.alert_id and f.last_seen >= cutoff]
    is_open = alert.status is AlertStatus.OPEN
    if is_open:
        mine = Finding(
            alert_id=alert.alert_id,
            module=alert.module,
            policy_id=alert.policy_id,
            policy_name=alert.policy_name,
            severity=alert.severity,
            last_seen=now,
            traits=traits_of(alert, cfg),
        )
        kept.append(mine)
    if len(kept) > cfg.max_findings_per_asset:
        kept.sort(key=lambda f: (f.last_seen, f.alert_id), reverse=True)
        kept = kept[: cfg.max_findings_per_asset]
    kept.sort(key=lambda f: (f.last_seen, f.alert_id))
    findings = tuple(kept)

    incident_id = state.incident_id if len(findings) >= 2 else None
    if incident_id is None and len(findings) >= 2:
        # Founders: the finding that completes the pair and the oldest one already there.
        founder = alert.alert_id if is_open else findings[-1].alert_id
        oldest = next(f.alert_id for f in findings if f.alert_id != founder)
        incident_id = _incident_id(asset_id, (founder, oldest))
    new_state = AssetState(asset_id=asset_id, findings=findings, incident_id=incident_id)

    if incident_id is None or not is_open:
        return CorrelationResult(None, (), frozenset({alert.module}), False, ""), new_state
    members = tuple(f.alert_id for f in findings)
    modules = frozenset(f.module for f in findings)
    traits = {t for f in findings for t in f.traits}
    combo = next((c for c in cfg.risky_combinations if c and set(c) <= traits), None)
    if len(modules) >= 2:
        names = ", ".join(sorted(m.value for m in modules))
        reason = f"{len(members)} open findings on this asset from {names}"
    else:
        reason = f"{len(members)} open findings on this asset"
    if combo is not None:
        reason += f"; risky combination: {' + '.join(combo)}"
    cross = len(modules) >= 2 or combo is not None
    return CorrelationResult(incident_id, members, modules, cross, reason, frozenset(traits)), new_state
