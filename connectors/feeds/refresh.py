"""``prismaflow feeds refresh``: download both feeds, verify them, store them where the workers read them.

Feed by feed (KEV, then EPSS) the outcome is one of:

* ``refreshed``: downloaded, verified (:mod:`connectors.feeds.verify`) and written atomically
  into the feeds folder (:class:`~connectors.feeds.store.FeedStore`);
* ``offline``: the source could not be reached (transport errors, timeouts or 5xx until the retry
  policy gave up); nothing changes, the workers keep the newest file they have;
* ``failed``: the source refused the request (4xx, e.g. a wrong URL); nothing changes;
* ``refused``: the download is not a valid feed (truncated, corrupt, wrong format, too small);
  nothing is written.

The report then says which files the workers will load, with their dates: feed by feed the
newest of the feeds folder and of the shipped snapshot (the offline fallback). ``ok`` is false
after ``failed`` or ``refused``, which need a person; being offline does not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from connectors.base import ConnectorError, ResponseFormatError, RetriesExhaustedError, TransientError
from connectors.feeds.client import Download, FeedClient
from connectors.feeds.store import SHIPPED_FEEDS_DIR, FeedStore, newest_snapshot
from connectors.feeds.verify import FeedVerificationError, verify_epss, verify_kev

__all__ = ["FeedInUse", "FeedOutcome", "RefreshReport", "refresh_feeds", "feeds_in_use"]

log = logging.getLogger(__name__)

Status = Literal["refreshed", "offline", "failed", "refused"]


@dataclass(frozen=True)
class FeedOutcome:
    """What the refresh did for one feed (``kev`` or ``epss``) and why."""

    feed: str
    status: Status
    detail: str
    path: Path | None = None


@dataclass(frozen=True)
class FeedInUse:
    """The file of one feed the workers load, its date and where it lies."""

    feed: str
    path: Path
    date: str
    shipped: bool

    def describe(self) -> str:
        where = "shipped snapshot" if self.shipped else str(self.path.parent)
        return f"{self.feed} {self.date} ({self.path.name}, {where})"


@dataclass(frozen=True)
class RefreshReport:
    """The outcome per feed and the files the workers will load afterwards."""

    outcomes: tuple[FeedOutcome, ...]
    in_use: tuple[FeedInUse, ...]

    @property
    def ok(self) -> bool:
        """False when a download failed or was refused: something a person should look at."""
        return all(o.status in ("refreshed", "offline") for o in self.outcomes)

    def lines(self) -> list[str]:
        """The report as the CLI prints it: one line per feed, then what the workers use."""
        out = [f"{o.feed}: {o.status}: {o.detail}" for o in self.outcomes]
        out.append("workers load: " + "; ".join(f.describe() for f in self.in_use))
        return out


def feeds_in_use(feeds_dir: Path, shipped_dir: Path = SHIPPED_FEEDS_DIR) -> tuple[FeedInUse, ...]:
    """Which KEV and EPSS files a worker with ``feeds_dir`` loads, with the dates their names carry."""
    files = newest_snapshot(feeds_dir, shipped_dir)
    return (
        FeedInUse("kev", files.kev, files.kev.name.removeprefix("kev-").removesuffix(".json"),
                  files.kev.parent.resolve() == shipped_dir.resolve()),
        FeedInUse("epss", files.epss, files.epss.name.removeprefix("epss-").removesuffix(".csv.gz"),
                  files.epss.parent.resolve() == shipped_dir.resolve()),
    )


async def _download(client: FeedClient, feed: str, url: str) -> Download | FeedOutcome:
    try:
        return await client.fetch(url)
    except (RetriesExhaustedError, TransientError) as exc:
        return FeedOutcome(feed, "offline", f"{url} unreachable ({exc}); keeping the current file")
    except ResponseFormatError as exc:
        return FeedOutcome(feed, "refused", f"{url}: {exc}; keeping the current file")
    except ConnectorError as exc:
        return FeedOutcome(feed, "failed", f"{url}: {exc}; keeping the current file")


def _store(feed: str, download: Download, write: Callable[[bytes, str], tuple[Path, str]]) -> FeedOutcome:
    try:
        path, what = write(download.content, download.url)
    except FeedVerificationError as exc:
        log.warning("feed refused feed=%s url=%s reason=%s", feed, download.url, exc)
        return FeedOutcome(feed, "refused", f"{exc}; keeping the current file")
    log.info("feed refreshed feed=%s url=%s path=%s", feed, download.url, path)
    return FeedOutcome(feed, "refreshed", f"{what} from {download.url} -> {path}", path)


async def refresh_feeds(client: FeedClient, feeds_dir: Path, *, shipped_dir: Path = SHIPPED_FEEDS_DIR) -> RefreshReport:
    """Refresh the KEV and EPSS files in ``feeds_dir`` from ``client.settings``' URLs (see module doc)."""
    settings, store = client.settings, FeedStore(feeds_dir)

    def write_kev(data: bytes, origin: str) -> tuple[Path, str]:
        kev = verify_kev(data, settings, origin)
        return store.write_kev(kev, data), f"KEV catalogVersion {kev.catalog_version}, {len(kev.entries):,} entries"

    def write_epss(data: bytes, origin: str) -> tuple[Path, str]:
        epss = verify_epss(data, settings, origin)
        return store.write_epss(epss, data), (f"EPSS score_date {epss.score_date}, model {epss.model_version}, "
                                              f"{len(epss.scores):,} rows")

    outcomes = []
    for feed, url, write in (("kev", settings.kev_url, write_kev), ("epss", settings.epss_url, write_epss)):
        download = await _download(client, feed, url)
        outcomes.append(download if isinstance(download, FeedOutcome) else _store(feed, download, write))
    return RefreshReport(tuple(outcomes), feeds_in_use(feeds_dir, shipped_dir))
