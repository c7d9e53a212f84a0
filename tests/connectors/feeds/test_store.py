"""Reading the feeds from folders (connectors/feeds/store.py): which files a worker loads, and how."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.feeds.store import SHIPPED_FEEDS_DIR, load_default_feeds, load_feeds, newest_snapshot
from processors.enrich.epss import EpssTable
from processors.errors import ConfigurationError

SHIPPED_KEV = SHIPPED_FEEDS_DIR / "kev-2026.08.21.json"
SHIPPED_EPSS = SHIPPED_FEEDS_DIR / "epss-2026-01-30.csv.gz"


def test_the_epss_table_is_compact_and_loading_twice_parses_once() -> None:
    feeds = load_default_feeds()
    assert isinstance(feeds.epss, EpssTable)
    assert feeds.epss.nbytes < 8_000_000  # three arrays of 313k numbers, not 60 MB of tuples
    assert load_default_feeds() is feeds


def test_bad_kev_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "kev.json").write_text(json.dumps({"title": "x"}))
    with pytest.raises(ConfigurationError, match="KEV"):
        load_feeds(tmp_path / "kev.json", SHIPPED_EPSS)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_feeds(tmp_path / "missing.json", SHIPPED_EPSS)


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("")
    return folder


def test_newest_snapshot_takes_each_feed_from_whichever_folder_holds_the_newer_file(tmp_path: Path) -> None:
    refreshed = _touch(tmp_path / "refreshed", "kev-2026.09.01.json", "epss-2025-12-01.csv.gz")
    files = newest_snapshot(refreshed, SHIPPED_FEEDS_DIR)
    assert files.kev == refreshed / "kev-2026.09.01.json"
    assert files.epss == SHIPPED_EPSS
    same = _touch(tmp_path / "same", SHIPPED_KEV.name, SHIPPED_EPSS.name)
    assert newest_snapshot(same, SHIPPED_FEEDS_DIR) == (same / SHIPPED_KEV.name, same / SHIPPED_EPSS.name)


def test_a_folder_without_feeds_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="feeds refresh"):
        load_default_feeds(tmp_path)
