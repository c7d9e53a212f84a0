"""``prismaflow feeds refresh|status`` over real HTTP on 127.0.0.1, and what a worker then loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.feeds.simulator import EPSS_CURRENT_PATH, KEV_PATH, FeedSimulator
from streams.cli import main
from streams.compose import load_worker_feeds
from streams.config import load_settings
from streams.embedded import ServedApp, free_port
from tests.connectors.feeds.conftest import epss_bytes, kev_bytes


@pytest.fixture
def feeds_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRISMAFLOW_WORKER_FEEDS_DIR", str(tmp_path / "feeds"))
    return tmp_path / "feeds"


def _point_at(monkeypatch: pytest.MonkeyPatch, base: str) -> None:
    monkeypatch.setenv("PRISMAFLOW_FEEDS_KEV_URL", base + KEV_PATH)
    monkeypatch.setenv("PRISMAFLOW_FEEDS_EPSS_URL", base + EPSS_CURRENT_PATH)


def test_refresh_downloads_over_http_and_the_next_worker_loads_the_new_feeds(
    feeds_dir: Path, served: list[ServedApp], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    hosts = FeedSimulator(kev_bytes(catalogVersion="2026.08.22"), epss_bytes("2026-08-22T12:03:07Z"), "2026-08-22")
    served.append(ServedApp(hosts))
    _point_at(monkeypatch, served[0].url)

    assert main(["feeds", "refresh"]) == 0
    out = capsys.readouterr().out
    assert "kev: refreshed: KEV catalogVersion 2026.08.22, 1,674 entries" in out
    assert "epss: refreshed: EPSS score_date 2026-08-22T12:03:07Z" in out
    assert f"workers load: kev 2026.08.22 (kev-2026.08.22.json, {feeds_dir})" in out

    assert load_worker_feeds(load_settings().worker).as_of == "kev:2026.08.22 epss:2026-08-22"
    assert main(["feeds", "status"]) == 0
    assert "epss: epss 2026-08-22 (epss-2026-08-22.csv.gz" in capsys.readouterr().out


def test_refresh_offline_exits_0_and_names_the_shipped_snapshot_it_falls_back_to(
    feeds_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _point_at(monkeypatch, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("PRISMAFLOW_FEEDS_MAX_ATTEMPTS", "1")
    assert main(["feeds", "refresh"]) == 0
    out = capsys.readouterr().out
    assert "kev: offline:" in out and "epss: offline:" in out
    assert ("workers load: kev 2026.08.21 (kev-2026.08.21.json, shipped snapshot); "
            "epss 2026-01-30 (epss-2026-01-30.csv.gz, shipped snapshot)") in out
    assert load_worker_feeds(load_settings().worker).as_of == "kev:2026.08.21 epss:2026-01-30"


def test_refresh_that_refuses_a_corrupted_download_exits_1(
    feeds_dir: Path, served: list[ServedApp], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    hosts = FeedSimulator.from_snapshot()
    hosts.epss = hosts.epss[:-4096]
    served.append(ServedApp(hosts))
    _point_at(monkeypatch, served[0].url)
    assert main(["feeds", "refresh"]) == 1
    out = capsys.readouterr().out
    assert "kev: refreshed" in out and "epss: refused:" in out and "truncated gzip" in out
    assert not list(feeds_dir.glob("epss-*"))
