"""``prismaflow feeds refresh`` and ``prismaflow feeds status`` from settings.

The refresh writes into the workers' feeds folder (``PRISMAFLOW_WORKER_FEEDS_DIR``, default
``$PRISMAFLOW_HOME/feeds``); sources and acceptance limits come from ``PRISMAFLOW_FEEDS_*``. Run it
daily (EPSS publishes once a day, CISA on every catalogue change, e.g. a Kubernetes CronJob that
shares the volume) and restart the core workers to load the new files: they read the feeds once,
at start-up.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.base import RetryPolicy
from connectors.feeds.settings import CISA_KEV_URL, EPSS_CURRENT_URL, FeedSettings
from streams.settings import _Settings

__all__ = ["FeedEnvSettings", "run_feeds"]


class FeedEnvSettings(_Settings):
    """Where `prismaflow feeds refresh` downloads the feeds from and what it accepts."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_FEEDS_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Exploitability feeds"

    kev_url: str = Field(default=CISA_KEV_URL, description="CISA KEV catalogue (JSON)")
    epss_url: str = Field(default=EPSS_CURRENT_URL, description="FIRST EPSS daily scores (csv.gz; the current file redirects to the dated one)")
    timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one download")
    min_kev_entries: int = Field(default=1000, ge=1, description="A KEV download with fewer entries is refused")
    min_epss_rows: int = Field(default=200_000, ge=1, description="An EPSS download with fewer rows is refused")
    max_attempts: int = Field(default=3, ge=1, description="Attempts per download (transport errors, timeouts, 5xx)")

    def feed_settings(self) -> FeedSettings:
        return FeedSettings(kev_url=self.kev_url, epss_url=self.epss_url, request_timeout_s=self.timeout_s,
                            min_kev_entries=self.min_kev_entries, min_epss_rows=self.min_epss_rows,
                            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay_s=1.0))


def run_feeds(action: str) -> int:
    """``refresh``: download, verify, store, then print what the workers load (exit 1 after a
    failed or refused download; 0 when offline). ``status``: print what the workers load."""
    from connectors.feeds import FeedClient, feeds_in_use, refresh_feeds
    from streams.run import WorkerSettings

    feeds_dir = WorkerSettings().feeds_dir
    if action == "status":
        for feed in feeds_in_use(feeds_dir):
            print(f"{feed.feed}: {feed.describe()}")
        return 0

    async def refresh() -> int:
        async with FeedClient(FeedEnvSettings().feed_settings()) as client:
            report = await refresh_feeds(client, feeds_dir)
        for line in report.lines():
            print(line)
        return 0 if report.ok else 1

    return asyncio.run(refresh())
