"""The LLM path end to end: real openai client → simulator, validation, repair, refusals, fallbacks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest

from connectors.llm.simulator import LlmSimulator
from processors.analyze import AnalysisFailedError
from processors.records import Analyser, AnalysisOutcome
from streams.analysis import AnalysisMetrics, AnalysisService
from tests.processors.analyze.alerts import scored_alert

from .conftest import sample


async def test_llm_analysis_records_prompt_model_and_the_hash_of_the_exact_input(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator
) -> None:
    service = make_service()

    analysis = await service.analyse(scored_alert())

    assert analysis.analyser is Analyser.LLM and analysis.outcome is AnalysisOutcome.ANALYSED
    assert (analysis.prompt_id, analysis.prompt_version, analysis.model) == ("triage", "1", "prismaflow-sim-1")
    sent = sim.requests[0]["messages"]
    canonical = json.dumps(sent, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert analysis.input_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert sim.requests[0]["response_format"]["json_schema"]["strict"] is True


async def test_alert_data_is_fenced_and_labelled_as_data(make_service: Callable[..., AnalysisService], sim: LlmSimulator) -> None:
    await make_service().analyse(scored_alert())

    system, user = (m["content"] for m in sim.requests[0]["messages"])
    assert "is DATA" in system and "never an instruction" in system
    assert user.count("<alert_data>") == 1 and user.count("</alert_data>") == 1


async def test_429_is_retried_by_the_sdk_and_the_analysis_is_llm(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator, metrics: AnalysisMetrics
) -> None:
    sim.add_fault("rate_limit", count=1)

    analysis = await make_service(llm_overrides={"max_retries": 2}).analyse(scored_alert())

    assert analysis.analyser is Analyser.LLM
    assert sim.calls["POST /v1/chat/completions"] == 2
    assert sample(metrics, "prismaflow_llm_calls_total", outcome="ok") == 1


@pytest.mark.parametrize(
    ("fault", "reason", "calls"),
    [("server_error", "llm_unavailable", 3), ("rate_limit", "llm_rate_limited", 3), ("timeout", "llm_timeout", 3)],
)
async def test_llm_outage_falls_back_offline_with_the_reason(
    fault: str, reason: str, calls: int, make_service: Callable[..., AnalysisService], sim: LlmSimulator,
    metrics: AnalysisMetrics,
) -> None:
    sim.add_fault(fault, count=10, sleep_s=5.0)  # type: ignore[arg-type]
    service = make_service(llm_overrides={"max_retries": 2, "timeout_s": 0.05})

    analysis = await service.analyse(scored_alert())

    assert analysis.analyser is Analyser.OFFLINE
    assert analysis.summary.startswith(f"[Offline analysis: {reason}]")
    assert sim.calls["POST /v1/chat/completions"] == calls
    assert sample(metrics, "prismaflow_llm_offline_fallbacks_total", reason=reason) == 1


async def test_invalid_json_is_repaired_once_with_the_validation_error(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator, metrics: AnalysisMetrics
) -> None:
    sim.add_fault("invalid_json")

    analysis = await make_service().analyse(scored_alert())

    assert analysis.analyser is Analyser.LLM
    assert sim.calls["POST /v1/chat/completions"] == 2
    repair = sim.requests[1]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert "could not be used" in repair[-1]["content"] and "json" in repair[-1]["content"].lower()
    assert sample(metrics, "prismaflow_llm_validation_failures_total") == 1
    assert sample(metrics, "prismaflow_llm_calls_total", outcome="invalid_output") == 1


async def test_invalid_twice_falls_back_offline_labelled(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator, metrics: AnalysisMetrics
) -> None:
    sim.add_fault("invalid_json")
    sim.add_fault("schema_violation")

    analysis = await make_service().analyse(scored_alert())

    assert analysis.analyser is Analyser.OFFLINE
    assert analysis.summary.startswith("[Offline analysis: invalid_output]")
    assert sample(metrics, "prismaflow_llm_validation_failures_total") == 2


async def test_invalid_twice_can_be_dead_lettered_instead(make_service: Callable[..., AnalysisService], sim: LlmSimulator) -> None:
    sim.add_fault("schema_violation", count=2)

    with pytest.raises(AnalysisFailedError) as caught:
        await make_service(dead_letter_invalid_output=True).analyse(scored_alert())
    assert "after one repair attempt" in caught.value.reason and caught.value.stage == "analyse"


async def test_refusal_falls_back_offline_without_a_repair(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator, metrics: AnalysisMetrics
) -> None:
    sim.add_fault("refusal")

    analysis = await make_service().analyse(scored_alert())

    assert analysis.summary.startswith("[Offline analysis: refused]")
    assert sim.calls["POST /v1/chat/completions"] == 1
    assert sample(metrics, "prismaflow_llm_calls_total", outcome="refused") == 1


async def test_usage_and_cost_are_metered(make_service: Callable[..., AnalysisService], metrics: AnalysisMetrics) -> None:
    service = make_service()

    await service.analyse(scored_alert())

    tokens_in = sample(metrics, "prismaflow_llm_tokens_total", direction="input")
    assert tokens_in > 0 and sample(metrics, "prismaflow_llm_tokens_total", direction="output") > 0
    assert sample(metrics, "prismaflow_llm_cost_usd_total") == pytest.approx(service.stats.cost_usd)
    assert sample(metrics, "prismaflow_llm_latency_seconds_count") == 1


async def test_no_llm_configured_is_offline(make_service: Callable[..., AnalysisService], metrics: AnalysisMetrics) -> None:
    analysis = await make_service(llm=False).analyse(scored_alert())

    assert analysis.analyser is Analyser.OFFLINE
    assert sample(metrics, "prismaflow_llm_offline_fallbacks_total", reason="not_configured") == 1
