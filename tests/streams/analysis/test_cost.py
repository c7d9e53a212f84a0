"""Cost control in the analysis service: gates, the alike-findings cache, the token budget and the rate limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.llm.simulator import LlmSimulator
from processors.models import AlertStatus, RiskTier
from processors.records import Analyser
from streams.analysis import AnalysisMetrics, AnalysisService, AnalysisSettings
from streams.analysis.budget import AnalysisGate, TokenBucket, TokenBudget
from tests.factories import make_alert, make_scored_alert
from tests.processors.analyze.alerts import scored_alert

from .conftest import sample

PUBLIC = '{"PublicAccessBlock": {"BlockPublicAcls": false}, "Name": "%s", "CreationDate": "%s"}'


async def test_alike_findings_reuse_one_analysis_regrounded_with_their_own_identifiers(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator, metrics: AnalysisMetrics
) -> None:
    service = make_service()
    first = scored_alert(name="exports-a", resource_id="arn:aws:s3:::exports-a", account_id="111111111111",
                         config=PUBLIC % ("exports-a", "2024-01-01"))
    second = scored_alert(name="exports-b", resource_id="arn:aws:s3:::exports-b", account_id="222222222222",
                          config=PUBLIC % ("exports-b", "2025-06-30"))

    a = await service.analyse(first)
    b = await service.analyse(second)

    assert sim.calls["POST /v1/chat/completions"] == 1
    assert sample(metrics, "prismaflow_llm_cache_hits_total") == 1
    assert b.analyser is Analyser.LLM and any(e.source == "cache" for e in b.evidence)
    assert "exports-b" in b.summary and "exports-a" not in b.model_dump_json()
    assert "exports-b" in b.remediation_steps[0].command
    assert a.input_hash != b.input_hash


async def test_a_different_configuration_shape_is_a_cache_miss(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator
) -> None:
    service = make_service()
    await service.analyse(scored_alert(config='{"PublicAccessBlock": {"BlockPublicAcls": false}}'))
    await service.analyse(scored_alert(config='{"PublicAccessBlock": {"BlockPublicAcls": true}}'))

    assert sim.calls["POST /v1/chat/completions"] == 2


async def test_spent_budget_answers_offline_and_says_so(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator, metrics: AnalysisMetrics
) -> None:
    service = make_service(tokens_per_hour=100)

    analysis = await service.analyse(scored_alert())

    assert analysis.analyser is Analyser.OFFLINE
    assert analysis.summary.startswith("[Offline analysis: budget_exhausted]")
    assert sim.calls["POST /v1/chat/completions"] == 0
    assert sample(metrics, "prismaflow_llm_budget_exhausted_total") == 1
    assert sample(metrics, "prismaflow_llm_offline_fallbacks_total", reason="budget_exhausted") == 1


async def test_budget_is_settled_with_reported_usage(make_service: Callable[..., AnalysisService]) -> None:
    service = make_service(cache_max_entries=0)

    await service.analyse(scored_alert())

    assert service.budget.used_hour == service.stats.input_tokens + service.stats.output_tokens


async def test_rate_limit_answers_offline_when_the_wait_is_too_long(
    make_service: Callable[..., AnalysisService], metrics: AnalysisMetrics
) -> None:
    service = make_service(rate_per_s=0.01, rate_burst=1, rate_max_wait_s=0.0, cache_max_entries=0)

    first = await service.analyse(scored_alert())
    second = await service.analyse(scored_alert())

    assert first.analyser is Analyser.LLM
    assert second.summary.startswith("[Offline analysis: rate_limited]")


async def test_below_the_llm_threshold_is_analysed_offline(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator, metrics: AnalysisMetrics
) -> None:
    analysis = await make_service().analyse(scored_alert(tier=RiskTier.MEDIUM, score=45))

    assert analysis.summary.startswith("[Offline analysis: below_llm_threshold]")
    assert sim.calls["POST /v1/chat/completions"] == 0


@pytest.mark.parametrize(
    ("tier", "score", "status", "expected"),
    [(RiskTier.HIGH, 70, AlertStatus.OPEN, True), (RiskTier.MEDIUM, 40, AlertStatus.OPEN, True),
     (RiskTier.LOW, 20, AlertStatus.OPEN, False), (RiskTier.CRITICAL, 90, AlertStatus.RESOLVED, False),
     (RiskTier.HIGH, 55, AlertStatus.OPEN, False)],
)
def test_stage_gate(tier: RiskTier, score: int, status: AlertStatus, expected: bool) -> None:
    gate = AnalysisGate(AnalysisSettings(min_tier=RiskTier.MEDIUM, min_score=30 if score != 55 else 60))
    scored = make_scored_alert(alert=make_alert(status=status), tier=tier, score=score)
    assert gate.should_analyse(scored) is expected


def test_a_member_re_emitted_for_its_incident_is_not_analysed_again() -> None:
    gate = AnalysisGate(AnalysisSettings(min_tier=RiskTier.MEDIUM, min_score=30))
    scored = make_scored_alert(tier=RiskTier.CRITICAL, score=90)
    assert gate.should_analyse(scored) is True
    assert gate.should_analyse(scored.model_copy(update={"incident_update": True})) is False


async def test_should_analyse_is_the_stage_gate(make_service: Callable[..., AnalysisService]) -> None:
    service = make_service(llm=False)
    assert service.should_analyse(scored_alert(tier=RiskTier.HIGH)) is True
    assert service.should_analyse(scored_alert(tier=RiskTier.LOW, score=10)) is False


def test_token_budget_rolls_over_each_hour() -> None:
    now = [3600.0 * 10]
    budget = TokenBudget(per_hour=1000, per_day=1500, clock=lambda: now[0])
    assert budget.reserve(800) and not budget.reserve(300)
    budget.settle(800, 500)
    assert budget.reserve(300)
    now[0] += 3600
    assert budget.reserve(600) is True and budget.reserve(200) is False  # the day's 1500 is spent


async def test_token_bucket_waits_within_the_limit() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(rate_per_s=2.0, burst=1, clock=lambda: now[0], sleep=sleep)
    assert await bucket.acquire(1.0) and await bucket.acquire(1.0)
    assert slept == [pytest.approx(0.5)]
    assert await bucket.acquire(0.1) is False
