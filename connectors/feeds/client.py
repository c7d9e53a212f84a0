"""HTTP client that downloads one feed file (the KEV JSON, the EPSS csv.gz) through the shared retry policy.

It knows nothing of the formats: :mod:`connectors.feeds.verify` decides whether the bytes are a
feed. Transport errors, timeouts and 5xx are retried per :class:`~connectors.base.RetryPolicy` and
end as :class:`~connectors.base.RetriesExhaustedError`; other 4xx raise at once. Redirects are
followed (``epss_scores-current.csv.gz`` answers 302 with the dated file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

from connectors.base import ResponseFormatError, send_with_retry
from connectors.feeds.settings import FeedSettings
from connectors.http_client import HttpConnector, HttpSeams

__all__ = ["Download", "FeedClient"]


@dataclass(frozen=True)
class Download:
    """The bytes one URL served, and the URL that finally served them (after redirects)."""

    url: str
    content: bytes


class FeedClient(HttpConnector):
    """Downloads feed files. ``client`` is borrowed when given (tests pass one over ASGITransport)."""

    def __init__(self, settings: FeedSettings, **seams: Unpack[HttpSeams]) -> None:
        super().__init__(settings, follow_redirects=True, **seams)
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
