"""The base of every HTTP connector client: one httpx client, borrowed or owned, and the seams.

Every client (Prisma Cloud CSPM and Compute, Jira, ServiceNow, Splunk HEC, Slack/Teams, the feed
hosts) takes its settings and the same keyword seams, :class:`HttpSeams`: an ``httpx`` client to
borrow (tests pass one over ``httpx.ASGITransport``), a retry policy overriding the settings', and
the clock, sleep and random source of the retry policy (tests pass a simulator's clock and sleep).
A subclass declares ``def __init__(self, settings: MySettings, **seams: Unpack[HttpSeams])`` and
keeps only what is its own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypedDict

import httpx

from connectors.base import AsyncClosing, RetryPolicy

__all__ = ["HttpClientSettings", "HttpConnector", "HttpSeams"]


class HttpClientSettings(Protocol):
    """What the base needs of a connector's settings."""

    @property
    def request_timeout_s(self) -> float: ...

    @property
    def retry(self) -> RetryPolicy: ...


class HttpSeams(TypedDict, total=False):
    """The keyword seams every HTTP connector client takes (all optional)."""

    client: httpx.AsyncClient | None
    retry: RetryPolicy | None
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    rng: Callable[[], float]


class HttpConnector(AsyncClosing):
    """What every HTTP connector client shares: an httpx client, borrowed or owned, and the seams
    of the retry policy. Use a subclass as ``async with Client(settings) as client: ...``.

    ``client`` is borrowed when given and closed only when this object created it (with the
    settings' timeout, and redirects followed only when ``follow_redirects``). ``retry`` defaults
    to ``settings.retry``; ``clock`` (``time.monotonic``), ``sleep`` and ``rng`` are the retry
    policy's and the token lifetimes' seams.
    """

    def __init__(
        self,
        settings: HttpClientSettings,
        *,
        client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        follow_redirects: bool = False,
    ) -> None:
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(
            timeout=httpx.Timeout(settings.request_timeout_s), follow_redirects=follow_redirects)
        self._retry = retry or settings.retry
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client:
            await self._client.aclose()
