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

Graph neighbourhood. An asset's state also holds *linked* findings: open findings of the assets
the asset graph attaches to it (:mod:`processors.graph`: the IAM role its instance profile
carries, its security groups, the images running on it), with ``Finding.asset_id`` naming that
neighbour. They count as members like the asset's own findings, with two differences: an
incident needs at least one *own* finding (an incident is about its asset), and a linked finding
stays until its neighbour reports it closed or the link expires (``graph.link_ttl_hours``), not
for the correlation window, because the neighbour forwards changes rather than every re-poll.
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
    "GraphSettings",
    "Trait",
    "correlate",
    "drop_linked",
    "finding_key",
    "incident_of",
    "traits_of",
]

Trait = Literal["exposure", "iam", "exploitable"]


def _default_combinations() -> list[list[Trait]]:
    return [["exposure", "iam", "exploitable"]]


class GraphSettings(BaseModel):
    """Asset-graph knobs (``correlation.graph`` in the scoring policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link_ttl_hours: float = Field(
        default=168.0, gt=0,
        description="A link (and the neighbour findings it brought) not confirmed for this long is forgotten; "
                    "the side that derives a link re-announces it after half of this")
    max_neighbours: int = Field(
        default=200, ge=1, description="Links kept per asset and direction (most recently confirmed win): a "
                                       "security group on thousands of instances is linked to this many")
    reemit_members: Literal["all", "changed"] = Field(
        default="all",
        description="When an incident changes, re-emit all its members ('all'), or only those whose record "
                    "changes beyond the member list ('changed': all when the incident forms, ends or its "
                    "risk changes; otherwise the members joining)")

    @property
    def link_ttl(self) -> timedelta:
        return timedelta(hours=self.link_ttl_hours)

    @property
    def refresh(self) -> timedelta:
        """A link confirmed again within this is not rewritten (its lifetime is far longer)."""
        return self.link_ttl / 48


class CorrelationSettings(BaseModel):
    """Correlation knobs; loaded as the ``correlation`` section of the scoring policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_hours: float = Field(default=24.0, gt=0)
    max_findings_per_asset: int = Field(default=200, ge=2)
    exploitable_epss: float = Field(default=0.1, ge=0, le=1, description="EPSS from which a CVE counts as exploitable")
    risky_combinations: list[list[Trait]] = Field(default_factory=_default_combinations)
    graph: GraphSettings = GraphSettings()

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
    asset_id: str = Field(default="", description="the neighbour asset a linked finding is on; empty: the asset's own")


def finding_key(origin: str, alert_id: str) -> str:
    """How a member is named in state and stored-alert tables: the alert id for the asset's own
    findings (so incident ids stay what they were before the graph), ``<neighbour>|<alert id>``
    for a linked one (alert ids need not be unique across assets)."""
    return f"{origin}|{alert_id}" if origin else alert_id


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


def _key(f: Finding) -> str:
    return finding_key(f.asset_id, f.alert_id)


def _alive(f: Finding, now: datetime, window: timedelta, cfg: CorrelationSettings) -> bool:
    return f.last_seen >= now - (cfg.graph.link_ttl if f.asset_id else window)


def _settle(asset_id: str, previous: str | None, kept: list[Finding], trigger: str | None,
            cfg: CorrelationSettings) -> AssetState:
    """Bound, order and name the members: the state after a change."""
    if len(kept) > cfg.max_findings_per_asset:
        kept.sort(key=lambda f: (f.last_seen, f.alert_id), reverse=True)
        kept = kept[: cfg.max_findings_per_asset]
    kept.sort(key=lambda f: (f.last_seen, f.alert_id))
    findings = tuple(kept)
    formed = len(findings) >= 2 and any(not f.asset_id for f in findings)
    incident_id = previous if formed else None
    if incident_id is None and formed:
        # Founders: the finding that completes the pair and the oldest one already there.
        keys = [_key(f) for f in findings]
        founder = trigger if trigger in keys else keys[-1]
        oldest = next(k for k in keys if k != founder)
        incident_id = _incident_id(asset_id, (founder, oldest))
    return AssetState(asset_id=asset_id, findings=findings, incident_id=incident_id)


def incident_of(state: AssetState | None, settings: CorrelationSettings | None = None) -> CorrelationResult | None:
    """What correlation says about every member of ``state``'s incident; None without an incident.

    The result the asset's members are scored with, whichever of them is being scored: used for
    the record that changed the incident and for the members re-emitted because it changed.
    """
    if state is None or state.incident_id is None:
        return None
    cfg = settings or CorrelationSettings()
    members = tuple(f.alert_id for f in state.findings)
    modules = frozenset(f.module for f in state.findings)
    traits = {t for f in state.findings for t in f.traits}
    combo = next((c for c in cfg.risky_combinations if c and set(c) <= traits), None)
    linked = sum(1 for f in state.findings if f.asset_id)
    where = "on this asset" if not linked else f"on this asset and {linked} on linked assets"
    own = len(members) - linked
    if len(modules) >= 2:
        names = ", ".join(sorted(m.value for m in modules))
        reason = f"{own} open findings {where} from {names}" if linked else \
            f"{len(members)} open findings on this asset from {names}"
    else:
        reason = f"{own} open findings {where}" if linked else f"{len(members)} open findings on this asset"
    if combo is not None:
        reason += f"; risky combination: {' + '.join(combo)}"
    return CorrelationResult(state.incident_id, members, modules, len(modules) >= 2 or combo is not None, reason,
                             frozenset(traits))


def correlate(
    state: AssetState | None,
    alert: Alert,
    now: datetime,
    window: timedelta | None = None,
    settings: CorrelationSettings | None = None,
    *,
    hub: str | None = None,
) -> tuple[CorrelationResult, AssetState]:
    """Fold ``alert`` into its asset's state; return the result for this alert and the new state.

    ``hub``: fold ``alert`` as a *linked* finding into the state of asset ``hub`` (a neighbour's
    finding forwarded by the asset graph) instead of into its own asset's state.
    """
    cfg = settings or CorrelationSettings()
    asset_id = hub or alert.resource.asset_id
    origin = "" if asset_id == alert.resource.asset_id else alert.resource.asset_id
    if state is None or state.asset_id != asset_id:
        state = AssetState(asset_id=asset_id)
    win = window if window is not None else cfg.window
    mine_key = finding_key(origin, alert.alert_id)
    kept = [f for f in state.findings if _key(f) != mine_key and _alive(f, now, win, cfg)]
    is_open = alert.status is AlertStatus.OPEN
    if is_open:
        kept.append(Finding(
            alert_id=alert.alert_id,
            module=alert.module,
            policy_id=alert.policy_id,
            policy_name=alert.policy_name,
            severity=alert.severity,
            last_seen=now,
            traits=traits_of(alert, cfg),
            asset_id=origin,
        ))
    new_state = _settle(asset_id, state.incident_id, kept, mine_key if is_open else None, cfg)
    result = incident_of(new_state, cfg)
    if result is None or not is_open:
        return CorrelationResult(None, (), frozenset({alert.module}), False, ""), new_state
    return result, new_state


def drop_linked(state: AssetState | None, origin: str, now: datetime,
                settings: CorrelationSettings | None = None) -> AssetState | None:
    """``state`` without the linked findings of neighbour ``origin`` (its link is gone)."""
    if state is None:
        return None
    cfg = settings or CorrelationSettings()
    kept = [f for f in state.findings if f.asset_id != origin and _alive(f, now, cfg.window, cfg)]
    return _settle(state.asset_id, state.incident_id, kept, None, cfg)
