"""The exploitability feeds' sources: CISA's KEV catalogue and FIRST's EPSS daily files.

``prismaflow feeds refresh`` (:func:`refresh_feeds`) downloads both with :class:`FeedClient`,
verifies them (:mod:`connectors.feeds.verify`, CISA's JSON Schema for KEV) and writes them
atomically where the workers read them (:class:`FeedStore`); offline, the workers keep the newest
files they have, at worst the snapshot shipped in ``processors/enrich/data``. Parsing the files is
pure and lives in :mod:`processors.enrich.feeds`.
"""

from __future__ import annotations

from connectors.feeds.client import Download, FeedClient
from connectors.feeds.refresh import FeedInUse, FeedOutcome, RefreshReport, feeds_in_use, refresh_feeds
from connectors.feeds.settings import FeedSettings
from connectors.feeds.store import FeedStore
from connectors.feeds.verify import FeedVerificationError, verify_epss, verify_kev

__all__ = [
    "Download",
    "FeedClient",
    "FeedInUse",
    "FeedOutcome",
    "FeedSettings",
    "FeedStore",
    "FeedVerificationError",
    "RefreshReport",
    "feeds_in_use",
    "refresh_feeds",
    "verify_epss",
    "verify_kev",
]
