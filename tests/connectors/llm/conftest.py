"""Fixtures: the LLM simulator in-process and the real ``openai`` client wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from connectors.llm.client import LlmClient
from connectors.llm.settings import LlmSettings
from connectors.llm.simulator import LlmSimulator, SimulatorTransport

BASE_URL = "http://llm.sim/v1"


@pytest.fixture
def sim() -> LlmSimulator:
    return LlmSimulator(api_key="sim-key", model="prismaflow-sim-1")


@pytest.fixture
def llm_settings() -> Callable[..., LlmSettings]:
    def make(**overrides: Any) -> LlmSettings:
        values: dict[str, Any] = {"base_url": BASE_URL, "model": "prismaflow-sim-1", "api_key": SecretStr("sim-key"),
                                  "timeout_s": 2.0, "max_retries": 2}
        return LlmSettings(**{**values, **overrides})

    return make


@pytest.fixture
async def make_client(sim: LlmSimulator, llm_settings: Callable[..., LlmSettings]) -> AsyncIterator[Callable[..., LlmClient]]:
    clients: list[LlmClient] = []

    def make(**overrides: Any) -> LlmClient:
        client = LlmClient(llm_settings(**overrides), http_client=httpx2.AsyncClient(transport=SimulatorTransport(app=sim)))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def admin(sim: LlmSimulator) -> AsyncIterator[httpx2.AsyncClient]:
    """A plain HTTP client for the simulator's own routes (``/_sim/*``, ``/v1/models``)."""
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sim), base_url="http://llm.sim") as client:
        yield client
