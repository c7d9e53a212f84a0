"""Fixtures: a HEC simulator and HEC clients wired to it in-process, on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.splunk.client import HecClient
from connectors.splunk.settings import SplunkHecSettings
from connectors.simkit import SimClock
from connectors.splunk.simulator import HecSimulator, SimConfig

HEC = "https://hec.sim:8088"
TOKEN = "11111111-2222-3333-4444-555555555555"
ACK_TOKEN = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CHANNEL = "0b9d0c36-8a51-4e0e-a7b3-2c6e6a9d7f10"


@pytest.fixture
def start_s() -> float:
    """Monotonic seconds, which only the clients' sleeps move."""
    return 1000.0


SimFactory = Callable[..., HecSimulator]


@pytest.fixture
def make_sim() -> SimFactory:
    def make(**config: Any) -> HecSimulator:
        return HecSimulator(SimConfig(**config))

    return make


def make_settings(**overrides: Any) -> SplunkHecSettings:
    values: dict[str, Any] = {
        "url": HEC,
        "token": SecretStr(TOKEN),
        "index": "security",
        "retry": RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=4),
    }
    values.update(overrides)
    return SplunkHecSettings(**values)


HecFactory = Callable[..., HecClient]


@pytest.fixture
async def make_client(clock: SimClock) -> AsyncIterator[HecFactory]:
    opened: list[httpx.AsyncClient] = []

    def make(sim: HecSimulator, **overrides: Any) -> HecClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))
        opened.append(http)
        return HecClient(make_settings(**overrides), client=http, clock=clock,
                         sleep=clock.sleep, rng=lambda: 1.0)

    yield make
    for http in opened:
        await http.aclose()
