"""Fixtures: a simulator on a frozen clock, clients wired to it through ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock, SimConfig, generate_estate

START_S = 1_718_010_000.0
API = "https://api.prismacloud.io"
CONSOLE = "https://console.compute.sim"

SimFactory = Callable[..., PrismaCloudSimulator]


@pytest.fixture
def clock() -> SimClock:
    """Simulated time; clients sleep on it, so backoff and rate limits cost no wall time."""
    return SimClock(base=lambda: START_S)


@pytest.fixture
def make_sim(clock: SimClock) -> SimFactory:
    def make(n_alerts: int = 300, seed: int = 7, **config: Any) -> PrismaCloudSimulator:
        estate = generate_estate(seed, n_alerts, now_ms=clock.now_ms())
        return PrismaCloudSimulator(estate, config=SimConfig(**config), clock=clock)

    return make


@pytest.fixture
def sim(make_sim: SimFactory) -> PrismaCloudSimulator:
    return make_sim()


@pytest.fixture
def settings() -> PrismaSettings:
    return PrismaSettings(
        api_url=API,
        username="sim-access-key",
        password=SecretStr("sim-secret-key"),
        compute_url=CONSOLE,
        page_size=50,
        retry=RetryPolicy(max_attempts=6, base_delay_s=0.5, max_delay_s=8),
    )


@pytest.fixture
async def http(sim: PrismaCloudSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as client:
        yield client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def cspm(
    settings: PrismaSettings, http: httpx.AsyncClient, clock: SimClock, sleeps: list[float]
) -> AsyncIterator[CspmClient]:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    async with CspmClient(settings, client=http, clock=clock.now, sleep=sleep,
                          rng=lambda: 1.0) as client:
        yield client


@pytest.fixture
async def compute(
    settings: PrismaSettings, http: httpx.AsyncClient, clock: SimClock, sleeps: list[float]
) -> AsyncIterator[ComputeClient]:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    async with ComputeClient(settings, client=http, clock=clock.now, sleep=sleep,
                             rng=lambda: 1.0) as client:
        yield client


async def sim_stats(http: httpx.AsyncClient) -> dict[str, Any]:
    """``GET /_sim/stats`` per-route counts, the way a test proves retries happened."""
    response = await http.get(f"{API}/_sim/stats")
    routes: dict[str, Any] = response.json()["routes"]
    return routes
