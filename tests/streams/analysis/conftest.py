"""Fixtures: analysis services (offline, and LLM over the in-process simulator), fresh metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from connectors.llm.client import LlmClient
from connectors.llm.settings import LlmSettings
from connectors.llm.simulator import LlmSimulator, SimulatorTransport
from processors.analyze.playbook import PlaybookLibrary
from processors.analyze.registry import PromptRegistry
from processors.analyze.retrieval import KnowledgeBase
from processors.models import RiskTier
from streams.analysis import AnalysisMetrics, AnalysisService, AnalysisSettings
from streams.analysis.inputs import load_knowledge_base, load_playbooks, load_prompt_registry


@pytest.fixture(scope="session")
def shared() -> tuple[PromptRegistry, PlaybookLibrary, KnowledgeBase]:
    return load_prompt_registry(), load_playbooks(), load_knowledge_base()


@pytest.fixture
def metrics() -> AnalysisMetrics:
    return AnalysisMetrics(CollectorRegistry())


def sample(metrics: AnalysisMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


@pytest.fixture
def sim() -> LlmSimulator:
    return LlmSimulator()


def llm_settings(**overrides: Any) -> LlmSettings:
    values: dict[str, Any] = {"base_url": "http://llm.sim/v1", "model": "prismaflow-sim-1",
                              "api_key": SecretStr("sim-key"), "timeout_s": 2.0, "max_retries": 1}
    return LlmSettings(**{**values, **overrides})


@pytest.fixture
async def make_service(
    sim: LlmSimulator, metrics: AnalysisMetrics, shared: tuple[PromptRegistry, PlaybookLibrary, KnowledgeBase]
) -> AsyncIterator[Callable[..., AnalysisService]]:
    """``make_service(llm=True, llm_overrides={...}, **settings)``; closes every client it made.

    These tests exercise the LLM path on HIGH and CRITICAL alerts of any score, so the LLM gate is
    opened to ``llm_min_tier=HIGH, llm_min_score=0`` unless a test sets it; the shipped gate
    (CRITICAL from 95) is what test_bench_mix_budget and test_settings check.
    """
    clients: list[LlmClient] = []
    prompts, playbooks, knowledge = shared

    def make(*, llm: bool = True, llm_overrides: dict[str, Any] | None = None, **settings: Any) -> AnalysisService:
        client = None
        llm_conf = None
        if llm:
            llm_conf = llm_settings(**(llm_overrides or {}))
            client = LlmClient(llm_conf, http_client=httpx2.AsyncClient(transport=SimulatorTransport(app=sim)))
            clients.append(client)
        settings = {"llm_min_tier": RiskTier.HIGH, "llm_min_score": 0, **settings}
        return AnalysisService(AnalysisSettings(llm=llm_conf, **settings), llm_client=client, prompts=prompts,
                               playbooks=playbooks, knowledge=knowledge, metrics=metrics)

    yield make
    for client in clients:
        await client.aclose()
