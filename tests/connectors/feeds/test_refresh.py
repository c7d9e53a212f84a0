"""``refresh_feeds`` against a local stand-in of the feed hosts serving the real files (and broken copies)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from connectors.feeds import FeedClient, FeedSettings, feeds_in_use, refresh_feeds
from connectors.feeds.settings import CISA_KEV_URL
from connectors.feeds.simulator import EPSS_CURRENT_PATH, KEV_PATH, FeedSimulator
from connectors.feeds.store import load_feeds, newest_snapshot
from processors.errors import ConfigurationError
from tests.connectors.feeds.conftest import REAL_EPSS, REAL_KEV, epss_bytes, kev_bytes


async def _no_sleep(_: float) -> None:
    return None


ClientFactory = Callable[..., FeedClient]


@pytest.fixture
async def clients() -> AsyncIterator[ClientFactory]:
    """Feed clients over an in-process transport, with the default (real) URLs and no real sleeping."""
    opened: list[httpx.AsyncClient] = []

    def make(transport: httpx.AsyncBaseTransport, **settings: object) -> FeedClient:
        http = httpx.AsyncClient(transport=transport, follow_redirects=True)
        opened.append(http)
        return FeedClient(FeedSettings(**settings), client=http, sleep=_no_sleep)  # type: ignore[arg-type]

    yield make
    for http in opened:
        await http.aclose()


def _served(simulator: FeedSimulator) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=simulator)


async def test_online_refresh_stores_both_real_files_unchanged_and_the_workers_use_them(
    clients: ClientFactory, feeds_dir: Path,
) -> None:
    hosts = FeedSimulator.from_snapshot()
    report = await refresh_feeds(clients(_served(hosts)), feeds_dir)
    assert [(o.feed, o.status) for o in report.outcomes] == [("kev", "refreshed"), ("epss", "refreshed")]
    assert report.ok
    assert (feeds_dir / "kev-2026.08.21.json").read_bytes() == REAL_KEV.read_bytes()
    assert (feeds_dir / "epss-2026-01-30.csv.gz").read_bytes() == REAL_EPSS.read_bytes()
    # The current EPSS file redirects to the dated one, and the client followed it.
    assert hosts.requests[EPSS_CURRENT_PATH] == 1 and hosts.requests["/epss_scores-2026-01-30.csv.gz"] == 1
    assert [f.path.parent for f in report.in_use] == [feeds_dir, feeds_dir]  # a tie goes to the refreshed folder
    assert "KEV catalogVersion 2026.08.21, 1,674 entries" in report.lines()[0]
    assert "EPSS score_date 2026-01-30T12:55:00Z, model v2025.03.14, 313,089 rows" in report.lines()[1]


async def test_newer_feeds_replace_older_ones_and_are_what_a_worker_loads(
    clients: ClientFactory, feeds_dir: Path,
) -> None:
    for day in ("2026-08-22", "2026-08-23", "2026-08-24"):
        hosts = FeedSimulator(kev_bytes(catalogVersion=day.replace("-", ".")), epss_bytes(f"{day}T12:00:00Z"), day)
        assert (await refresh_feeds(clients(_served(hosts)), feeds_dir)).ok
    # The newest two of each feed are kept: the new one and the one a starting worker may be opening.
    assert sorted(p.name for p in feeds_dir.iterdir()) == [
        "epss-2026-08-23.csv.gz", "epss-2026-08-24.csv.gz", "kev-2026.08.23.json", "kev-2026.08.24.json"]
    files = newest_snapshot(feeds_dir)
    feeds = load_feeds(files.kev, files.epss)
    assert feeds.as_of == "kev:2026.08.24 epss:2026-08-24" and len(feeds.epss) == 313_089


async def test_a_corrupted_download_is_refused_and_the_feed_in_use_stays(
    clients: ClientFactory, feeds_dir: Path,
) -> None:
    good = FeedSimulator(kev_bytes(catalogVersion="2026.08.22"), epss_bytes("2026-08-22T12:00:00Z"), "2026-08-22")
    assert (await refresh_feeds(clients(_served(good)), feeds_dir)).ok
    before = {p.name: p.read_bytes() for p in feeds_dir.iterdir()}

    truncated = epss_bytes("2026-08-23T12:00:00Z")
    broken = FeedSimulator(kev_bytes(catalogVersion="2026.08.23", count=5), truncated[: len(truncated) // 2],
                           "2026-08-23")
    report = await refresh_feeds(clients(_served(broken)), feeds_dir)

    assert [(o.feed, o.status) for o in report.outcomes] == [("kev", "refused"), ("epss", "refused")]
    assert not report.ok
    assert "count says 5 but 1674" in report.outcomes[0].detail
    assert "truncated gzip" in report.outcomes[1].detail
    assert {p.name: p.read_bytes() for p in feeds_dir.iterdir()} == before  # nothing written, no partial file
    assert [f.date for f in report.in_use] == ["2026.08.22", "2026-08-22"]


async def test_offline_the_refresh_falls_back_and_says_which_files_with_dates(
    clients: ClientFactory, feeds_dir: Path,
) -> None:
    attempts: list[str] = []

    def unreachable(request: httpx.Request) -> httpx.Response:
        attempts.append(str(request.url))
        raise httpx.ConnectError("Name or service not known", request=request)

    client = clients(httpx.MockTransport(unreachable), max_attempts=3)
    report = await refresh_feeds(client, feeds_dir)

    assert [(o.feed, o.status) for o in report.outcomes] == [("kev", "offline"), ("epss", "offline")]
    assert report.ok  # being offline needs no person; the workers keep what they have
    assert attempts.count(CISA_KEV_URL) == 3
    assert not feeds_dir.exists() or not any(feeds_dir.iterdir())
    assert report.lines()[-1] == ("workers load: kev 2026.08.21 (kev-2026.08.21.json, shipped snapshot); "
                                  "epss 2026-01-30 (epss-2026-01-30.csv.gz, shipped snapshot)")


async def test_a_feed_host_answering_5xx_counts_as_offline_and_4xx_as_failed(
    clients: ClientFactory, feeds_dir: Path,
) -> None:
    down = FeedSimulator.from_snapshot()
    down.fail_status = 503
    report = await refresh_feeds(clients(_served(down), max_attempts=2), feeds_dir)
    assert [o.status for o in report.outcomes] == ["offline", "offline"] and report.ok
    assert down.requests[KEV_PATH] == 2

    down.fail_status = 404
    report = await refresh_feeds(clients(_served(down)), feeds_dir)
    assert [o.status for o in report.outcomes] == ["failed", "failed"] and not report.ok


async def test_a_download_over_the_size_limit_is_refused(clients: ClientFactory, feeds_dir: Path) -> None:
    report = await refresh_feeds(clients(_served(FeedSimulator.from_snapshot()), max_download_bytes=1_500_000),
                                 feeds_dir)
    assert [o.status for o in report.outcomes] == ["refreshed", "refused"]  # KEV is 1.4 MB, EPSS 2.1 MB
    assert "larger than 1500000 bytes" in report.outcomes[1].detail and not report.ok


async def test_a_feeds_folder_that_cannot_be_written_is_one_clear_error(
    clients: ClientFactory, tmp_path: Path,
) -> None:
    read_only = tmp_path / "read-only"
    read_only.write_text("a file where the folder should be")
    with pytest.raises(ConfigurationError, match="cannot write the feeds folder"):
        await refresh_feeds(clients(_served(FeedSimulator.from_snapshot())), read_only / "feeds")


async def test_a_write_that_fails_half_way_leaves_the_previous_file_and_no_partial_one(
    clients: ClientFactory, feeds_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds_dir.mkdir()
    (feeds_dir / "kev-2026.08.21.json").write_bytes(REAL_KEV.read_bytes())

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    hosts = FeedSimulator(kev_bytes(catalogVersion="2026.08.22"), epss_bytes(), "2026-01-30")
    with pytest.raises(ConfigurationError, match="cannot write .*kev-2026.08.22.json.*No space left"):
        await refresh_feeds(clients(_served(hosts)), feeds_dir)
    assert [p.name for p in feeds_dir.iterdir()] == ["kev-2026.08.21.json"]
    assert feeds_in_use(feeds_dir)[0].date == "2026.08.21"
