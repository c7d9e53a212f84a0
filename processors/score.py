"""Explainable risk scoring: a 0-100 score from weighted factors, each with a human reason.

Called by the stateful stage after dedupe and correlation (:func:`processors.pipeline.process_for_asset`).
The weights and value tables live in ``processors/policies/scoring.yaml``, loaded once into a
:class:`ScoringPolicy` (unknown keys rejected). Each factor contributes ``weight * value`` points;
the score is their rounded sum, so the factors add up to the score a person sees.

Noise suppression: a :class:`DismissalHistory` holds (policy id, resource pattern) pairs that
were dismissed before; a matching alert is scored as usual but marked ``suggested_dismissal``.
"""

from __future__ import annotations

import fnmatch
import functools
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from processors.correlate import CorrelationResult, CorrelationSettings
from processors.errors import ConfigurationError
from processors.models import (
    Alert,
    AlertStatus,
    Criticality,
    Environment,
    RiskFactor,
    RiskTier,
    ScoredAlert,
    Severity,
    UpdateKind,
)

__all__ = [
    "DEFAULT_POLICY_PATH",
    "DismissalHistory",
    "ScoringPolicy",
    "load_scoring_policy",
    "score",
]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "policies" / "scoring.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Unit = Field(ge=0.0, le=1.0)


class Weights(_Strict):
    severity: float = Field(ge=0)
    exploitability: float = Field(ge=0)
    exposure: float = Field(ge=0)
    criticality: float = Field(ge=0)
    data_sensitivity: float = Field(ge=0)
    correlation: float = Field(ge=0)
    environment: float = Field(ge=0)

    @model_validator(mode="after")
    def _sum_to_100(self) -> Weights:
        total = sum(self.model_dump().values())
        if abs(total - 100.0) > 1e-6:
            raise ValueError(f"weights must add up to 100, got {total:g}")
        return self


class Tiers(_Strict):
    critical: int = Field(ge=0, le=100)
    high: int = Field(ge=0, le=100)
    medium: int = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if not self.critical >= self.high >= self.medium:
            raise ValueError("tier thresholds must satisfy critical >= high >= medium")
        return self


class CorrelationValues(_Strict):
    cross_module: float = _Unit
    incident: float = _Unit
    none: float = _Unit


class Suppression(_Strict):
    learn_from_reasons: list[str] = Field(default_factory=lambda: ["USER_DISMISSED"])


class ScoringPolicy(_Strict):
    """The scoring policy file's schema; see ``processors/policies/scoring.yaml`` for meanings."""

    version: Literal[1] = 1
    weights: Weights
    severity_values: dict[Severity, float]
    criticality_values: dict[Criticality, float]
    sensitivity_values: dict[Literal["restricted", "confidential", "internal", "public", "unknown"], float]
    environment_values: dict[Environment, float]
    correlation_values: CorrelationValues
    runtime_exploitability: dict[str, float] = Field(default_factory=dict)
    tiers: Tiers
    non_prod_max_tier: RiskTier = RiskTier.CRITICAL
    non_prod_environments: list[Environment] = Field(default_factory=list)
    correlation: CorrelationSettings = CorrelationSettings()
    suppression: Suppression = Suppression()

    @model_validator(mode="after")
    def _complete_tables(self) -> ScoringPolicy:
        tables: dict[str, dict[str, float]] = {
            "severity_values": {k.value: v for k, v in self.severity_values.items()},
            "criticality_values": {k.value: v for k, v in self.criticality_values.items()},
            "sensitivity_values": {str(k): v for k, v in self.sensitivity_values.items()},
            "environment_values": {k.value: v for k, v in self.environment_values.items()},
            "runtime_exploitability": dict(self.runtime_exploitability),
        }
        for name, enum_values in (
            ("severity_values", [s.value for s in Severity]),
            ("criticality_values", [c.value for c in Criticality]),
            ("sensitivity_values", ["restricted", "confidential", "internal", "public", "unknown"]),
            ("environment_values", [e.value for e in Environment]),
        ):
            missing = [k for k in enum_values if k not in tables[name]]
            if missing:
                raise ValueError(f"{name} lacks {missing}")
        for table in tables.values():
            for key, value in table.items():
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"value for {key!r} must be within 0-1, got {value}")
        return self


def load_scoring_policy(path: Path = DEFAULT_POLICY_PATH) -> ScoringPolicy:
    """Parse and validate a scoring policy YAML file; call once at start-up."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"scoring policy {path} cannot be read: {exc}") from exc
    try:
        return ScoringPolicy.model_validate(doc)
    except ValidationError as exc:
        raise ConfigurationError(f"scoring policy {path} is invalid: {exc}") from exc


@functools.lru_cache(maxsize=4096)
def _compiled_patterns(patterns: tuple[str, ...]) -> tuple[dict[str, int], tuple[tuple[int, str], ...]]:
    """Split patterns into exact ids (first index of each) and globs (with their index), once."""
    exact: dict[str, int] = {}
    globs: list[tuple[int, str]] = []
    for index, pattern in enumerate(patterns):
        if any(ch in pattern for ch in "*?["):
            globs.append((index, pattern))
        else:
            exact.setdefault(pattern, index)
    return exact, tuple(globs)


class DismissalHistory(BaseModel):
    """Policy ids mapped to resource patterns (globs over asset id, resource id or name) dismissed before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def match(self, alert: Alert) -> str | None:
        """Return the pattern that marks ``alert`` as previously dismissed, or None."""
        patterns = self.entries.get(alert.policy_id)
        if not patterns:
            return None
        r = alert.resource
        candidates = [c for c in (r.asset_id, r.resource_id, r.name) if c]
        exact, globs = _compiled_patterns(patterns)
        best: int | None = None
        for candidate in candidates:  # learnt patterns are exact ids: a dict lookup, not a glob scan
            index = exact.get(candidate)
            if index is not None and (best is None or index < best):
                best = index
        for index, pattern in globs:
            if best is not None and index > best:
                break
            if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
                best = index
                break
        return patterns[best] if best is not None else None

    def with_dismissal(self, policy_id: str, pattern: str) -> DismissalHistory:
        """Return a history that also holds (policy_id, pattern); the same object when already held."""
        current = self.entries.get(policy_id, ())
        if pattern in current:
            return self
        return DismissalHistory(entries={**self.entries, policy_id: (*current, pattern)})


_TIER_ORDER = (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL)


def _tier(points: int, policy: ScoringPolicy, environment: Environment) -> RiskTier:
    t = policy.tiers
    tier = (
        RiskTier.CRITICAL if points >= t.critical
        else RiskTier.HIGH if points >= t.high
        else RiskTier.MEDIUM if points >= t.medium
        else RiskTier.LOW
    )
    if environment in policy.non_prod_environments:
        cap = policy.non_prod_max_tier
        if _TIER_ORDER.index(tier) > _TIER_ORDER.index(cap):
            tier = cap
    return tier


def _factor(name: str, weight: float, value: float, reason: str) -> RiskFactor:
    value = min(1.0, max(0.0, value))
    return _risk_factor(name, weight, value, reason)


@functools.lru_cache(maxsize=8192)
def _risk_factor(name: str, weight: float, value: float, reason: str) -> RiskFactor:
    # Most factors repeat across alerts (same severity, same environment...); RiskFactor is frozen,
    # so one instance can be shared and the validation cost is paid once.
    return RiskFactor(name=name, weight=weight, value=value, contribution=round(weight * value, 2), reason=reason)


def _exploitability(alert: Alert, policy: ScoringPolicy) -> tuple[float, str]:
    e = alert.enrichment
    if e.in_kev:
        kev = sorted({v.cve for v in alert.vulnerabilities if v.in_kev})
        return 1.0, f"{', '.join(kev[:3])}{' …' if len(kev) > 3 else ''} in CISA KEV (known exploited)"
    runtime = policy.runtime_exploitability.get(alert.policy_type)
    if runtime is not None:
        return runtime, f"runtime finding ({alert.policy_type}): observed behaviour, not a CVE"
    if alert.vulnerabilities:
        scored = [v for v in alert.vulnerabilities if v.epss is not None]
        if not scored:
            return 0.0, f"{len(alert.vulnerabilities)} CVEs, none with an EPSS score"
        top = max(scored, key=lambda v: v.epss or 0.0)
        return e.exploitability, f"highest EPSS {top.epss:.3f} ({top.cve}) of {len(alert.vulnerabilities)} CVEs"
    return 0.0, "no CVEs on this finding"


def score(
    alert: Alert,
    correlation: CorrelationResult | None,
    history: DismissalHistory,
    policy: ScoringPolicy,
    now: datetime,
    *,
    update_kind: UpdateKind = UpdateKind.NEW,
) -> ScoredAlert:
    """Score ``alert`` and explain it; pure. ``now`` becomes ``scored_at``."""
    w = policy.weights
    e = alert.enrichment
    corr = correlation
    sens = e.data_sensitivity if e.data_sensitivity in policy.sensitivity_values else "unknown"
    exp_value, exp_reason = _exploitability(alert, policy)
    if corr is not None and corr.incident_id is not None:
        if corr.cross_module:
            corr_value, corr_reason = policy.correlation_values.cross_module, f"cross-module incident: {corr.reason}"
        else:
            corr_value, corr_reason = policy.correlation_values.incident, f"incident: {corr.reason}"
    else:
        corr_value, corr_reason = policy.correlation_values.none, "no other open findings on this asset"
    factors = [
        _factor("severity", w.severity, policy.severity_values[alert.severity], f"Prisma severity {alert.severity.value}"),
        _factor("exploitability", w.exploitability, exp_value, exp_reason),
        _factor(
            "exposure", w.exposure, 1.0 if e.internet_exposed else 0.0,
            "reachable from the internet" if e.internet_exposed else "no sign of internet exposure",
        ),
        _factor("criticality", w.criticality, policy.criticality_values[e.criticality], f"business criticality {e.criticality.value}"),
        _factor("data_sensitivity", w.data_sensitivity, policy.sensitivity_values[sens], f"data classification {sens}"),
        _factor("correlation", w.correlation, corr_value, corr_reason),
        _factor("environment", w.environment, policy.environment_values[e.environment], f"environment {e.environment.value}"),
    ]
    points = max(0, min(100, round(sum(f.weight * f.value for f in factors))))
    pattern = history.match(alert)
    suggested = pattern is not None and alert.status is AlertStatus.OPEN
    return ScoredAlert(
        alert=alert,
        update_kind=update_kind,
        score=points,
        tier=_tier(points, policy, e.environment),
        factors=factors,
        incident_id=corr.incident_id if corr is not None else None,
        incident_members=list(corr.members) if corr is not None else [],
        suggested_dismissal=suggested,
        suggestion_reason=(
            f"policy {alert.policy_id} was dismissed before on resources matching {pattern!r}" if suggested else ""
        ),
        scored_at=now,
    )
