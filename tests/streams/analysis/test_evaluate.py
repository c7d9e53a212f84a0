"""The evaluation harness over the shipped labelled set."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from processors.models import RiskTier
from streams.analysis import AnalysisService
from streams.analysis.evaluation import DEFAULT_LABELLED_PATH, load_labelled, main, run_evaluation


def test_the_labelled_set_is_realistic_in_size_and_spread() -> None:
    labelled = load_labelled(DEFAULT_LABELLED_PATH)
    assert 40 <= len(labelled) <= 60
    families = {item.label.remediation_family for item in labelled}
    assert len(families) >= 8 and any(not item.label.true_positive for item in labelled)
    assert {item.scored.alert.resource.cloud.value for item in labelled} == {"aws", "azure", "gcp"}


async def test_offline_evaluation_agrees_with_analysts(make_service: Callable[..., AnalysisService]) -> None:
    labelled = load_labelled()

    report = await run_evaluation(labelled, make_service(llm=False, min_tier=RiskTier.LOW))

    assert report.alerts == len(labelled)
    assert report.priority_agreement >= 0.8 and report.tp_fp_agreement >= 0.9 and report.family_agreement >= 0.9
    assert report.llm_calls == 0 and report.offline_fallbacks == {"not_configured": len(labelled)}
    assert "priority agreement" in report.render()


async def test_llm_evaluation_counts_calls_cache_hits_and_cost(make_service: Callable[..., AnalysisService]) -> None:
    labelled = load_labelled()

    report = await run_evaluation(labelled, make_service(min_tier=RiskTier.LOW, llm_min_tier=RiskTier.LOW, rate_per_s=1000.0))

    assert 0 < report.llm_calls <= len(labelled) and report.cache_hits >= 1
    assert report.calls_per_1000_alerts == pytest.approx(1000 * report.llm_calls / len(labelled))
    assert report.schema_valid_rate == 1.0 and report.cost_usd > 0


def test_main_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "remediation family agreement" in capsys.readouterr().out
