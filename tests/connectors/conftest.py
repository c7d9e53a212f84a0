"""Fixtures every connector's tests share: the simulated clock and an HTTP client on the simulator.

A package's ``conftest.py`` provides ``make_sim`` (or ``sim`` itself) and may override ``start_s``; the
simulator, the client under test and the test then share one :class:`SimClock`, whose ``sleep``
the clients get, so backoff, ``Retry-After`` waits and outages cost no wall time and every wait
is on record in ``clock.sleeps``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.types import ASGIApp

from connectors.simkit import SimClock


@pytest.fixture
def start_s() -> float:
    """Where the simulated clock starts (epoch seconds; 2024-06-10T09:00:00Z unless a package says)."""
    return 1_718_010_000.0


@pytest.fixture
def clock(start_s: float) -> SimClock:
    """Simulated time; clients sleep on it, so backoff, Retry-After and outages cost no wall time."""
    return SimClock(base=lambda: start_s)


@pytest.fixture
def sleeps(clock: SimClock) -> list[float]:
    """Every wait a client asked for, in order."""
    return clock.sleeps


@pytest.fixture
def sim(make_sim: Callable[[], ASGIApp]) -> ASGIApp:
    """The package's simulator with its defaults (``make_sim`` builds variants)."""
    return make_sim()


@pytest.fixture
async def http(sim: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls the package's simulator in-process."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as client:
        yield client
