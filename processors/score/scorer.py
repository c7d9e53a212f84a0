"""Explainable risk scoring: the rubric's tier, and a 0-100 score that ranks alerts within it.

Called by the stateful stage after dedupe and correlation (:func:`processors.pipeline.process_for_asset`).
The tier comes from :func:`processors.score.rubric.decide_tier` (docs/scoring.md). The score lies in
the tier's band (``tiers`` in the policy): the first factor, ``tier``, contributes the band's floor
and names the rule; the seven weighted factors (weights add up to 100, scaled to the band's width)
place the alert within the band. Each factor contributes ``weight * value`` points and the score is
their rounded sum, so the factors add up to the score a person sees, and a higher tier always
scores higher.
"""

from __future__ import annotations

import functools
from datetime import datetime

from processors.correlate import CorrelationResult
from processors.models import (
    Alert,
    AlertStatus,
    RiskFactor,
    ScoredAlert,
    UpdateKind,
)
from processors.score.history import DismissalHistory
from processors.score.policy import ScoringPolicy
from processors.score.rubric import decide_tier

__all__ = ["score"]


def _factor(name: str, weight: float, value: float, reason: str) -> RiskFactor:
    value = min(1.0, max(0.0, value))
    return _risk_factor(name, round(weight, 4), value, reason)


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


def _correlation(corr: CorrelationResult | None, policy: ScoringPolicy) -> tuple[float, str]:
    """The correlation factor: ranks incident members higher within their tier, never changes the tier."""
    if corr is None or corr.incident_id is None:
        return policy.correlation_values.none, "no other open findings on this asset"
    if corr.cross_module:
        return policy.correlation_values.cross_module, f"cross-module incident: {corr.reason}"
    return policy.correlation_values.incident, f"incident: {corr.reason}"


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
    e = alert.enrichment
    pattern = history.match(alert)
    decision = decide_tier(alert, policy, correlation=correlation, known_noise=pattern)
    floor, ceiling = policy.tiers.band(decision.tier)
    scale = (ceiling - floor) / 100.0
    w = policy.weights
    sens = e.data_sensitivity if e.data_sensitivity in policy.sensitivity_values else "unknown"
    exp_value, exp_reason = _exploitability(alert, policy)
    corr_value, corr_reason = _correlation(correlation, policy)
    exposed = decision.facts.internet_facing
    exposure_reason = (
        f"reachable from the internet: {decision.facts.exposure_evidence}" if exposed else "no sign of internet exposure"
    )
    factors = [
        _factor("tier", float(floor), 1.0, f"{decision.reason} (score band {floor}-{ceiling})"),
        _factor("severity", w.severity * scale, policy.severity_values[alert.severity],
                f"Prisma severity {alert.severity.value}; finding kind {decision.facts.kind.value}"),
        _factor("exploitability", w.exploitability * scale, exp_value, exp_reason),
        _factor("exposure", w.exposure * scale, 1.0 if exposed else 0.0, exposure_reason),
        _factor("criticality", w.criticality * scale, policy.criticality_values[e.criticality],
                f"business criticality {e.criticality.value}"),
        _factor("data_sensitivity", w.data_sensitivity * scale, policy.sensitivity_values[sens],
                f"data classification {sens}"),
        _factor("correlation", w.correlation * scale, corr_value, corr_reason),
        _factor("environment", w.environment * scale, policy.environment_values[e.environment],
                f"environment {e.environment.value}"),
    ]
    points = max(floor, min(ceiling, round(sum(f.contribution for f in factors))))
    suggested = pattern is not None and alert.status is AlertStatus.OPEN
    return ScoredAlert(
        alert=alert,
        update_kind=update_kind,
        score=points,
        tier=decision.tier,
        factors=factors,
        incident_id=correlation.incident_id if correlation is not None else None,
        incident_members=list(correlation.members) if correlation is not None else [],
        suggested_dismissal=suggested,
        suggestion_reason=(
            f"policy {alert.policy_id} was dismissed before on resources matching {pattern!r}" if suggested else ""
        ),
        scored_at=now,
    )
