"""Fixtures: analyzers (offline and LLM over the in-process simulator), fresh metrics, alert builders."""

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
from processors.analyze import Analyzer, AnalyzerMetrics, AnalyzerSettings
from processors.analyze.playbook import PlaybookLibrary
from processors.analyze.registry import PromptRegistry
from processors.analyze.retrieval import KnowledgeBase
from processors.models import Cloud, Environment, RiskTier, ScoredAlert
from tests.factories import (
    make_alert,
    make_enrichment,
    make_resource_ref,
    make_scored_alert,
)


@pytest.fixture(scope="session")
def shared() -> tuple[PromptRegistry, PlaybookLibrary, KnowledgeBase]:
    return PromptRegistry.load(), PlaybookLibrary.load(), KnowledgeBase.load()


@pytest.fixture
def metrics() -> AnalyzerMetrics:
    return AnalyzerMetrics(CollectorRegistry())


def sample(metrics: AnalyzerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


@pytest.fixture
def sim() -> LlmSimulator:
    return LlmSimulator()


def llm_settings(**overrides: Any) -> LlmSettings:
    values: dict[str, Any] = {"base_url": "http://llm.sim/v1", "model": "prismaflow-sim-1",
                              "api_key": SecretStr("sim-key"), "timeout_s": 2.0, "max_retries": 1}
    return LlmSettings(**{**values, **overrides})


@pytest.fixture
async def make_analyzer(
    sim: LlmSimulator, metrics: AnalyzerMetrics, shared: tuple[PromptRegistry, PlaybookLibrary, KnowledgeBase]
) -> AsyncIterator[Callable[..., Analyzer]]:
    """``make_analyzer(llm=True, llm_overrides={...}, **settings)``; closes every client it made."""
    clients: list[LlmClient] = []
    prompts, playbooks, knowledge = shared

    def make(*, llm: bool = True, llm_overrides: dict[str, Any] | None = None, **settings: Any) -> Analyzer:
        client = None
        llm_conf = None
        if llm:
            llm_conf = llm_settings(**(llm_overrides or {}))
            client = LlmClient(llm_conf, http_client=httpx2.AsyncClient(transport=SimulatorTransport(app=sim)))
            clients.append(client)
        return Analyzer(AnalyzerSettings(llm=llm_conf, **settings), llm_client=client, prompts=prompts,
                        playbooks=playbooks, knowledge=knowledge, metrics=metrics)

    yield make
    for client in clients:
        await client.aclose()


def scored_alert(
    *,
    policy_name: str = "AWS S3 bucket publicly readable via ACL or bucket policy",
    policy_type: str = "config",
    cloud: Cloud = Cloud.AWS,
    name: str = "payments-exports",
    resource_id: str = "arn:aws:s3:::payments-exports",
    resource_type: str = "aws-s3api-get-bucket-acl",
    account_id: str = "123456789012",
    environment: Environment = Environment.PROD,
    tier: RiskTier = RiskTier.CRITICAL,
    score: int = 88,
    config: str = '{"PublicAccessBlock": {"BlockPublicAcls": false}, "Grants": [{"Permission": "READ"}]}',
    recommendation: str = "Enable S3 Block Public Access on the bucket and remove public grants.",
    description: str = "Identifies S3 buckets readable by anyone on the internet.",
    tags: dict[str, str] | None = None,
    vulnerabilities: list[Any] | None = None,
    **scored: Any,
) -> ScoredAlert:
    """A scored alert built through the factories, with the fields the analysis tests vary."""
    resource = make_resource_ref(
        asset_id=f"{cloud.value}:{account_id}:{name}", resource_id=resource_id, name=name, resource_type=resource_type,
        cloud=cloud, account_id=account_id, tags=tags if tags is not None else {"env": environment.value},
    )
    alert = make_alert(
        policy_name=policy_name, policy_type=policy_type, resource=resource, recommendation=recommendation,
        description=description, vulnerabilities=vulnerabilities or [],
        enrichment=make_enrichment(environment=environment, resource_config_json=config),
    )
    defaults: dict[str, Any] = {"alert": alert, "tier": tier, "score": score, "incident_id": None, "incident_members": []}
    return make_scored_alert(**{**defaults, **scored})
