"""Fixtures: a simulator on a frozen clock, clients wired to it through ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.http_client import HttpSeams
from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock, SimConfig, generate_estate

API = "https://api.prismacloud.io"
CONSOLE = "https://console.compute.sim"

SimFactory = Callable[..., PrismaCloudSimulator]


@pytest.fixture
def make_sim(clock: SimClock) -> SimFactory:
    def make(n_alerts: int = 300, seed: int = 7, **config: Any) -> PrismaCloudSimulator:
        estate = generate_estate(seed, n_alerts, now_ms=clock.now_ms())
        return PrismaCloudSimulator(estate, config=SimConfig(**config), clock=clock)

    return make


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


def seams(http: httpx.AsyncClient, clock: SimClock) -> HttpSeams:
    """A client's seams: the in-process simulator, its clock and sleep, no jitter."""
    return {"client": http, "clock": clock.now, "sleep": clock.sleep, "rng": lambda: 1.0}


@pytest.fixture
async def cspm(settings: PrismaSettings, http: httpx.AsyncClient, clock: SimClock) -> AsyncIterator[CspmClient]:
    async with CspmClient(settings, **seams(http, clock)) as client:
        yield client


@pytest.fixture
async def compute(settings: PrismaSettings, http: httpx.AsyncClient,
                  clock: SimClock) -> AsyncIterator[ComputeClient]:
    async with ComputeClient(settings, **seams(http, clock)) as client:
        yield client


async def sim_stats(http: httpx.AsyncClient) -> dict[str, Any]:
    """``GET /_sim/stats`` per-route counts, the way a test proves retries happened."""
    response = await http.get(f"{API}/_sim/stats")
    routes: dict[str, Any] = response.json()["routes"]
    return routes
