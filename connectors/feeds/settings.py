"""Typed settings for downloading and checking the exploitability feeds (CISA KEV, FIRST EPSS).

The feed client and the verification take a :class:`FeedSettings` and never read the environment; it is
the ``feeds`` section of the settings tree (``PRISMAFLOW_FEEDS_*`` variables; ``request_timeout_s`` is
``PRISMAFLOW_FEEDS_TIMEOUT_S``), so its fields are flat: the retry policy is built from two of them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import RetryPolicy

__all__ = ["CISA_KEV_URL", "EPSS_CURRENT_URL", "FeedSettings"]

#: CISA's published location of the KEV catalogue (JSON), updated on every catalogue release.
CISA_KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
#: FIRST EPSS's current daily file; it answers with a redirect to ``epss_scores-YYYY-MM-DD.csv.gz``.
EPSS_CURRENT_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"


class FeedSettings(BaseModel):
    """Where the feeds come from and what a download must look like to be accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kev_url: str = Field(default=CISA_KEV_URL, description="CISA KEV catalogue (JSON)")
    epss_url: str = Field(
        default=EPSS_CURRENT_URL, description="FIRST EPSS daily scores (csv.gz; the current file redirects to the dated one)")
    request_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one download")
    max_download_bytes: int = Field(default=64 * 1024 * 1024, gt=0, description="Largest download accepted")
    max_inflated_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Largest EPSS file accepted once gunzipped (refuses gzip bombs)")
    min_kev_entries: int = Field(default=1000, ge=1, description="A KEV download with fewer entries is refused")
    min_epss_rows: int = Field(default=200_000, ge=1, description="An EPSS download with fewer rows is refused")
    max_attempts: int = Field(default=3, ge=1, description="Attempts per download (transport errors, timeouts, 5xx)")
    retry_base_delay_s: float = Field(
        default=1.0, ge=0, description="Backoff base between attempts (full jitter, doubling per attempt)")

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of one download: ``max_attempts`` sends, backoff from ``retry_base_delay_s``."""
        return RetryPolicy(max_attempts=self.max_attempts, base_delay_s=self.retry_base_delay_s)
