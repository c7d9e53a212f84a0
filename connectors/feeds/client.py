"""HTTP client that downloads one feed file (the KEV JSON, the EPSS csv.gz) through the shared retry policy.

It knows nothing of the formats: :mod:`connectors.feeds.verify` decides whether the bytes are a
feed. Transport errors, timeouts and 5xx are retried per :class:`~connectors.base.RetryPolicy` and
end as :class:`~connectors.base.RetriesExhaustedError`; other 4xx raise at once. Redirects are
followed (``epss_scores-current.csv.gz`` answers 302 with the dated file).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from connectors.base import HttpConnector, ResponseFormatError, send_with_retry
from connectors.feeds.settings import FeedSettings

__all__ = ["Download", "FeedClient"]


@dataclass(frozen=True)
class Download:
    """The bytes one URL served, and the URL that finally served them (after redirects)."""

    url: str
    content: bytes


class FeedClient(HttpConnector):
    """Downloads feed files. ``client`` is borrowed when given (tests pass one over ASGITransport)."""

    def __init__(self, settings: FeedSettings, *, client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        owned = client is None
        if client is None:
            client = httpx.AsyncClient(timeout=httpx.Timeout(settings.request_timeout_s), follow_redirects=True)
        super().__init__(timeout_s=settings.request_timeout_s, client=client, retry=settings.retry,
                         sleep=sleep, rng=rng)
        self._owns_client = owned
        self.settings = settings

    async def fetch(self, url: str) -> Download:
        """The body ``url`` serves; :class:`ResponseFormatError` when it exceeds ``max_download_bytes``.

        The limit is checked once the body has arrived (the feeds come from URLs the operator
        configured; the limit stops a wrong URL from feeding a multi-gigabyte file to the parser).
        """
        response = await send_with_retry(self._client, lambda: self._client.build_request("GET", url),
                                         self._retry, sleep=self._sleep, rng=self._rng)
        limit = self.settings.max_download_bytes
        if len(response.content) > limit:
            raise ResponseFormatError(f"download larger than {limit} bytes", method="GET",
                                      path=response.request.url.path, status_code=response.status_code)
        return Download(str(response.url), response.content)
