"""``prismaflow feeds refresh`` and ``prismaflow feeds status`` from settings.

The refresh writes into the workers' feeds folder (``PRISMAFLOW_WORKER_FEEDS_DIR``, default
``$PRISMAFLOW_HOME/feeds``); sources and acceptance limits come from ``PRISMAFLOW_FEEDS_*`` (the
``feeds`` section of the settings tree). Run it daily (EPSS publishes once a day, CISA on every
catalogue change, e.g. a Kubernetes CronJob that shares the volume) and restart the core workers to
load the new files: they read the feeds once, at start-up.
"""

from __future__ import annotations

import asyncio

from connectors.feeds import FeedClient, feeds_in_use, refresh_feeds
from streams.config import PrismaflowSettings

__all__ = ["run_feeds"]


def run_feeds(action: str, settings: PrismaflowSettings) -> int:
    """``refresh``: download, verify, store, then print what the workers load (exit 1 after a
    failed or refused download; 0 when offline). ``status``: print what the workers load."""
    feeds_dir = settings.worker.feeds_dir
    if action == "status":
        for feed in feeds_in_use(feeds_dir):
            print(f"{feed.feed}: {feed.describe()}")
        return 0

    async def refresh() -> int:
        async with FeedClient(settings.feeds) as client:
            report = await refresh_feeds(client, feeds_dir)
        for line in report.lines():
            print(line)
        return 0 if report.ok else 1

    return asyncio.run(refresh())
