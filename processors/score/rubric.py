"""The tier rubric of docs/scoring.md, rule for rule: which tier an alert gets, and why.

:func:`decide_tier` is called once per alert by :func:`processors.score.score`. It picks the rule
(C1-C7, H1-H7, M1-M6, L1-L6) in the order the rubric states, applies the adjustments (A1 low-value
asset, A2 environment) and then the gates (G1 not open, G2 known noise), and returns a
:class:`TierDecision` whose ``reason`` names each step, so a person can check it against the page.
Rule ids here and in the document must stay the same; ``tests/processors/test_rubric.py`` checks
each rule on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.correlate import CorrelationResult
from processors.models import Alert, AlertStatus, RiskTier, Severity
from processors.score.findings import POSTURE_KINDS, Exploitation, FindingFacts, FindingKind, finding_facts
from processors.score.policy import TIER_ORDER, ScoringPolicy

__all__ = ["RULE_TITLES", "TierDecision", "decide_tier"]

C, H, M, L = RiskTier.CRITICAL, RiskTier.HIGH, RiskTier.MEDIUM, RiskTier.LOW

#: Rule id -> (tier, short title), as in docs/scoring.md.
RULE_TITLES: dict[str, tuple[RiskTier, str]] = {
    "C1": (C, "active runtime attack"),
    "C2": (C, "root account used"),
    "C3": (C, "exploitable and internet-facing"),
    "C4": (C, "administrative access from the internet"),
    "C5": (C, "sensitive asset publicly exposed"),
    "C6": (C, "privileged identity on an internet-facing asset"),
    "C7": (C, "Prisma critical"),
    "H1": (H, "Prisma high"),
    "H2": (H, "exploited, internal"),
    "H3": (H, "critical vulnerability"),
    "H4": (H, "suspicious runtime behaviour"),
    "H5": (H, "raised weakness"),
    "H6": (H, "critical code"),
    "H7": (H, "activity"),
    "M1": (M, "Prisma medium"),
    "M2": (M, "unexploited vulnerability"),
    "M3": (M, "runtime event"),
    "M4": (M, "raised weakness"),
    "M5": (M, "code"),
    "M6": (M, "activity"),
    "L1": (L, "Prisma low / informational"),
    "L2": (L, "old, unexploited vulnerability"),
    "L3": (L, "public by design"),
    "L4": (L, "code"),
    "L5": (L, "runtime event"),
    "L6": (L, "activity"),
}

#: Rules that rest on evidence of attack or exploitation: A1 (low-value asset) does not lower them.
_THREAT_RULES = frozenset({"C1", "C2", "C3", "H2", "H4", "M3", "L5"})
_HIGH_OR_ABOVE = frozenset({Severity.HIGH, Severity.CRITICAL})


@dataclass(frozen=True, slots=True)
class TierDecision:
    """The tier of one alert, the rule that set it, and every step after it."""

    tier: RiskTier
    rule: str
    rule_tier: RiskTier
    reason: str
    facts: FindingFacts


def _rule(f: FindingFacts, alert: Alert) -> tuple[str, str]:
    """(rule id, evidence) of the first rule that matches, in the rubric's order."""
    sev = alert.severity
    kind = f.kind
    # C1-C4: attacks, exploitable exposure, administrative access from the internet.
    if kind is FindingKind.RUNTIME_INCIDENT:
        return "C1", alert.policy_name  # not the description: audit messages quote attacker command lines
    if f.root_usage:
        return "C2", alert.policy_name
    if kind is FindingKind.VULNERABILITY and f.exploitation is not Exploitation.NONE and f.internet_facing:
        return "C3", f"{f.exploit_evidence}; {f.exposure_evidence}"
    if f.admin_exposure:
        return "C4", f.exposure_evidence or alert.policy_name
    # L3 before the generic severity rules: the specific case wins.
    if kind is FindingKind.EXPOSURE and f.public_data and not f.write_exposure:
        return "L3", "data classified public: the exposure is intended"
    if kind is FindingKind.EXPOSURE and f.high_value:
        return "C5", f"{alert.policy_name}; {f.high_value}"
    if kind is FindingKind.IDENTITY and sev in _HIGH_OR_ABOVE and f.internet_facing:
        return "C6", f"{alert.policy_name}; {f.exposure_evidence}"
    if sev is Severity.CRITICAL and (
        alert.policy_type == "attack_path" or (kind in POSTURE_KINDS and kind is not FindingKind.EXPOSURE)
    ):
        return "C7", alert.policy_name
    if kind is FindingKind.VULNERABILITY:
        return _vulnerability_rule(f, sev)
    if kind is FindingKind.RUNTIME_EVENT:
        rule = "H4" if sev in _HIGH_OR_ABOVE else "M3" if sev is Severity.MEDIUM else "L5"
        return rule, alert.policy_name
    if kind is FindingKind.ACTIVITY:
        return ("H7" if sev in _HIGH_OR_ABOVE else "M6" if sev is Severity.MEDIUM else "L6"), alert.policy_name
    if kind is FindingKind.CODE:
        return ("H6" if sev is Severity.CRITICAL else "M5" if sev is Severity.HIGH else "L4"), alert.policy_name
    return _posture_rule(f, alert)


def _vulnerability_rule(f: FindingFacts, sev: Severity) -> tuple[str, str]:
    if f.exploitation is not Exploitation.NONE:
        return "H2", f"{f.exploit_evidence}; not known to be internet-facing"
    where = "internet-facing" if f.internet_facing else "not internet-facing"
    evidence = f"worst CVE severity {sev.value}, no known exploitation, {where}"
    if sev is Severity.CRITICAL or (sev is Severity.HIGH and f.internet_facing):
        return "H3", evidence
    if (sev is Severity.HIGH) or (sev is Severity.MEDIUM and f.internet_facing):
        return "M2", evidence
    return "L2", evidence


def _posture_rule(f: FindingFacts, alert: Alert) -> tuple[str, str]:
    sev = alert.severity
    if sev in _HIGH_OR_ABOVE:  # secrets rated critical land here too: H1
        return "H1", alert.policy_name
    if sev is Severity.INFORMATIONAL:
        return "L1", f"{alert.policy_name} (informational)"
    raised_by = ""
    if f.high_value and f.kind is not FindingKind.SECRET:
        raised_by = f"high-value asset: {f.high_value}"
    elif f.internet_facing and f.kind in (FindingKind.IDENTITY, FindingKind.CONFIGURATION):
        raised_by = f"internet-facing: {f.exposure_evidence}"
    if sev is Severity.MEDIUM:
        return ("H5", f"{alert.policy_name}; {raised_by}") if raised_by else ("M1", alert.policy_name)
    return ("M4", f"{alert.policy_name}; {raised_by}") if raised_by else ("L1", alert.policy_name)


def _lower(tier: RiskTier, steps: int) -> RiskTier:
    return TIER_ORDER[max(0, TIER_ORDER.index(tier) - steps)]


def decide_tier(
    alert: Alert,
    policy: ScoringPolicy,
    *,
    correlation: CorrelationResult | None = None,
    known_noise: str | None = None,
) -> TierDecision:
    """Apply the rubric to ``alert``.

    ``correlation`` is its asset's incident (other open findings may show the asset internet-facing);
    ``known_noise`` is the dismissal-history pattern it matches, if any.
    """
    settings = policy.rubric
    f = finding_facts(alert, settings, correlation)
    rule, evidence = _rule(f, alert)
    rule_tier, title = RULE_TITLES[rule]
    tier = rule_tier
    steps = [f"{rule_tier.value.upper()} by {rule} {title}: {evidence}"]
    if f.low_value and rule not in _THREAT_RULES and f.kind is not FindingKind.ACTIVITY and tier is not L:
        tier = _lower(tier, 1)
        steps.append(f"A1 low business criticality: {tier.value.upper()}")
    env = alert.enrichment.environment
    adjust = settings.environments.get(env)
    if adjust is not None:
        adjusted = _lower(tier, adjust.step_down)
        if TIER_ORDER.index(adjusted) > TIER_ORDER.index(adjust.max_tier):
            adjusted = adjust.max_tier
        if adjusted is not tier:
            tier = adjusted
            steps.append(f"A2 environment {env.value}: {tier.value.upper()}")
    if alert.status is not AlertStatus.OPEN:
        if tier is not L:
            steps.append(f"G1 {alert.status.value}: LOW")
        tier = L
    elif known_noise is not None:
        if rule in ("C1", "C2") or f.exploitation is Exploitation.KNOWN:
            steps.append("G2 dismissed before on matching resources, but an attack is never noise")
        else:
            if tier is not L:
                steps.append("G2 dismissed before on matching resources: LOW")
            tier = L
    return TierDecision(tier=tier, rule=rule, rule_tier=rule_tier, reason="; ".join(steps), facts=f)
