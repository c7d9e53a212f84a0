"""Fixtures: a Jira simulator on a frozen clock and clients wired to it through ASGITransport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.jira.client import JiraClient
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator, SimClock, SimConfig, Workflow

START_S = 1_741_944_413.589
SITE = "https://prismaflow-sim.atlassian.net"

SimFactory = Callable[..., JiraSimulator]
SettingsFactory = Callable[..., JiraSettings]


@pytest.fixture
def start_s() -> float:
    return START_S


@pytest.fixture
def make_sim(clock: SimClock) -> SimFactory:
    def make(workflow: Workflow | None = None, **config: Any) -> JiraSimulator:
        config.setdefault("base_url", SITE)
        return JiraSimulator(config=SimConfig(**config), clock=clock, workflow=workflow)

    return make


@pytest.fixture
def make_settings() -> SettingsFactory:
    def make(**overrides: Any) -> JiraSettings:
        values: dict[str, Any] = {
            "base_url": SITE,
            "auth": BasicAuth(email="bot@example.com", api_token=SecretStr("sim-api-token")),
            "project_key": "SEC",
            "retry": RetryPolicy(max_attempts=5, base_delay_s=0.5, max_delay_s=8),
        }
        values.update(overrides)
        return JiraSettings(**values)

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> JiraSettings:
    return make_settings()


ClientFactory = Callable[[JiraSettings], JiraClient]


@pytest.fixture
def make_client(http: httpx.AsyncClient, clock: SimClock) -> ClientFactory:
    def make(settings: JiraSettings) -> JiraClient:
        return JiraClient(settings, client=http, sleep=clock.sleep, rng=lambda: 1.0)

    return make


@pytest.fixture
def jira(make_client: ClientFactory, settings: JiraSettings) -> JiraClient:
    return make_client(settings)


async def sim_stats(http: httpx.AsyncClient) -> dict[str, Any]:
    """``GET /_sim/stats`` per-route counts, the way a test proves retries happened."""
    response = await http.get(f"{SITE}/_sim/stats")
    routes: dict[str, Any] = response.json()["routes"]
    return routes


async def sim_issues(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """``GET /_sim/issues``: everything the simulated site holds."""
    response = await http.get(f"{SITE}/_sim/issues")
    issues: list[dict[str, Any]] = response.json()["issues"]
    return issues
