"""Fixtures: a ServiceNow simulator on a controllable clock and clients wired to it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.servicenow.client import ServiceNowClient
from connectors.servicenow.settings import BasicAuth, ServiceNowSettings
from connectors.servicenow.simulator import ServiceNowSimulator, SimConfig
from connectors.simkit import SimClock

INSTANCE = "https://sim.service-now.com"
START_S = 1_767_323_045.0


@pytest.fixture
def start_s() -> float:
    return START_S


SimFactory = Callable[..., ServiceNowSimulator]


@pytest.fixture
def make_sim(clock: SimClock) -> SimFactory:
    def make(**config: Any) -> ServiceNowSimulator:
        return ServiceNowSimulator(SimConfig(instance_url=INSTANCE, **config), clock=clock)

    return make


def make_settings(**overrides: Any) -> ServiceNowSettings:
    values: dict[str, Any] = {
        "instance_url": INSTANCE,
        "auth": BasicAuth(username="prismaflow", password=SecretStr("sim-password")),
        "team_groups": {"platform": "a" * 32},
        "owner_groups": {"alice@example.com": "b" * 32},
        "default_assignment_group": "c" * 32,
        "retry": RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=4),
    }
    values.update(overrides)
    return ServiceNowSettings(**values)


SnFactory = Callable[..., ServiceNowClient]


@pytest.fixture
def make_client(http: httpx.AsyncClient, clock: SimClock) -> SnFactory:
    def make(**overrides: Any) -> ServiceNowClient:
        return ServiceNowClient(make_settings(**overrides), client=http, sleep=clock.sleep,
                                rng=lambda: 1.0)

    return make


@pytest.fixture
async def sn(make_client: SnFactory) -> AsyncIterator[ServiceNowClient]:
    async with make_client() as client:
        yield client


async def sim_stats(http: httpx.AsyncClient) -> dict[str, Any]:
    """``GET /_sim/stats`` per-route counts, the way a test proves retries happened."""
    routes: dict[str, Any] = (await http.get(f"{INSTANCE}/_sim/stats")).json()["routes"]
    return routes
