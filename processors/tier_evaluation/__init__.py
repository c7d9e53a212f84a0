"""Tier evaluation: how far the scorer's tiers agree with analysts' labels on realistic scenarios.

* :mod:`processors.tier_evaluation.scenarios`: the labelled scenario file's schema and the Prisma
  payload each scenario stands for.
* :mod:`processors.tier_evaluation.evaluate`: runs them through the pipeline and reports the
  confusion matrix, exact and within-one-tier agreement and CRITICAL recall.

``prismaflow eval tiers`` prints the report for the shipped set (``tests/data/eval/tier_scenarios.yaml``)
or any file in the same format (``--data``).
"""

from __future__ import annotations

from processors.tier_evaluation.evaluate import EVALUATED_AT, Outcome, TierReport, evaluate_scenario, evaluate_tiers
from processors.tier_evaluation.scenarios import Scenario, ScenarioFile, parse_scenarios, raw_alert

__all__ = [
    "EVALUATED_AT",
    "Outcome",
    "Scenario",
    "ScenarioFile",
    "TierReport",
    "evaluate_scenario",
    "evaluate_tiers",
    "parse_scenarios",
    "raw_alert",
]
