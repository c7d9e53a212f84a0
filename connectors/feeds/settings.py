"""Typed settings for downloading and checking the exploitability feeds (CISA KEV, FIRST EPSS).

The feed client and the verification take a :class:`FeedSettings` and never read the environment;
``prismaflow feeds refresh`` builds one from ``PRISMAFLOW_FEEDS_*`` variables (streams/feeds.py).
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

    kev_url: str = Field(default=CISA_KEV_URL, description="URL of the KEV catalogue JSON")
    epss_url: str = Field(default=EPSS_CURRENT_URL, description="URL of the EPSS daily csv.gz")
    request_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one download")
    max_download_bytes: int = Field(default=64 * 1024 * 1024, gt=0, description="Largest download accepted")
    max_inflated_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Largest EPSS file accepted once gunzipped (refuses gzip bombs)")
    min_kev_entries: int = Field(default=1000, ge=1, description="A KEV catalogue with fewer entries is refused")
    min_epss_rows: int = Field(default=200_000, ge=1, description="An EPSS file with fewer rows is refused")
    retry: RetryPolicy = Field(default_factory=lambda: RetryPolicy(max_attempts=3, base_delay_s=1.0))
