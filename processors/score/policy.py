"""The scoring policy file's schema (``processors/policies/scoring.yaml``), loaded once at start-up.

:func:`parse_scoring_policy` parses and validates the YAML into a frozen :class:`ScoringPolicy`;
unknown keys are rejected and a bad file raises :class:`ConfigurationError` naming the file. The
rubric's meaning is in ``docs/scoring.md``; this file only holds its knobs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from processors.correlate import CorrelationSettings
from processors.models import Criticality, Environment, RiskTier, Severity
from processors.yaml_documents import parse_yaml_document

__all__ = [
    "TIER_ORDER",
    "CorrelationValues",
    "EnvironmentAdjustment",
    "RubricSettings",
    "ScoringPolicy",
    "Suppression",
    "Tiers",
    "Weights",
    "parse_scoring_policy",
    "tier_at_least",
]


#: Tiers from lowest to highest; the index is the rank.
TIER_ORDER: tuple[RiskTier, ...] = (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL)


def tier_at_least(tier: RiskTier, floor: RiskTier) -> bool:
    """True when ``tier`` is ``floor`` or above (low < medium < high < critical); the sinks'
    tier filters use it."""
    return TIER_ORDER.index(tier) >= TIER_ORDER.index(floor)

Sensitivity = Literal["restricted", "confidential", "internal", "public", "unknown"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Unit = Field(ge=0.0, le=1.0)


class Weights(_Strict):
    """How much each factor moves an alert within its tier's band; they add up to 100."""

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
    """The floor of each tier's score band; LOW starts at 0 and CRITICAL ends at 100."""

    critical: int = Field(ge=0, le=100)
    high: int = Field(ge=0, le=100)
    medium: int = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if not 0 < self.medium < self.high < self.critical <= 100:
            raise ValueError(
                "tier thresholds must satisfy critical >= high >= medium, each band at least one point "
                "wide (0 < medium < high < critical <= 100)"
            )
        return self

    def band(self, tier: RiskTier) -> tuple[int, int]:
        """The lowest and highest score of ``tier``."""
        if tier is RiskTier.CRITICAL:
            return self.critical, 100
        if tier is RiskTier.HIGH:
            return self.high, self.critical - 1
        if tier is RiskTier.MEDIUM:
            return self.medium, self.high - 1
        return 0, self.medium - 1


class CorrelationValues(_Strict):
    cross_module: float = _Unit
    incident: float = _Unit
    none: float = _Unit


class Suppression(_Strict):
    learn_from_reasons: list[str] = Field(default_factory=lambda: ["USER_DISMISSED"])


class EnvironmentAdjustment(_Strict):
    """Rubric adjustment A2 for one environment: a ceiling and a number of tiers to step down."""

    max_tier: RiskTier = RiskTier.CRITICAL
    step_down: int = Field(default=0, ge=0, le=3)


def _default_environments() -> dict[Environment, EnvironmentAdjustment]:
    return {
        Environment.STAGING: EnvironmentAdjustment(max_tier=RiskTier.HIGH),
        Environment.TEST: EnvironmentAdjustment(step_down=1),
        Environment.DEV: EnvironmentAdjustment(step_down=1),
    }


def _default_high_value_sensitivities() -> list[Sensitivity]:
    return ["restricted", "confidential"]


class RubricSettings(_Strict):
    """The thresholds the rubric (docs/scoring.md) reads; its rules themselves are code."""

    likely_exploited_epss: float = Field(default=0.1, ge=0, le=1, description="EPSS from which a CVE is likely exploited")
    high_value_sensitivities: list[Sensitivity] = Field(default_factory=_default_high_value_sensitivities)
    high_value_criticalities: list[Criticality] = Field(default_factory=lambda: [Criticality.CRITICAL])
    low_value_criticalities: list[Criticality] = Field(default_factory=lambda: [Criticality.LOW])
    environments: dict[Environment, EnvironmentAdjustment] = Field(default_factory=_default_environments)


class ScoringPolicy(_Strict):
    """The scoring policy file's schema; see ``processors/policies/scoring.yaml`` for meanings."""

    version: Literal[1] = 1
    weights: Weights
    severity_values: dict[Severity, float]
    criticality_values: dict[Criticality, float]
    sensitivity_values: dict[Sensitivity, float]
    environment_values: dict[Environment, float]
    correlation_values: CorrelationValues
    runtime_exploitability: dict[str, float] = Field(default_factory=dict)
    tiers: Tiers
    rubric: RubricSettings = RubricSettings()
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


def parse_scoring_policy(text: str, origin: str) -> ScoringPolicy:
    """Parse and validate the text of a scoring policy YAML file (``origin`` names it in errors)."""
    return parse_yaml_document(text, ScoringPolicy, f"scoring policy {origin}")
