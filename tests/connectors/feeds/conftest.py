"""Feed files for the refresh tests: the shipped (real) files and clearly labelled modified copies."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

import pytest

from connectors.feeds.store import SHIPPED_FEEDS_DIR

REAL_KEV = SHIPPED_FEEDS_DIR / "kev-2026.08.21.json"
REAL_EPSS = SHIPPED_FEEDS_DIR / "epss-2026-01-30.csv.gz"


def kev_bytes(**changes: object) -> bytes:
    """The real KEV catalogue with top-level fields changed (e.g. a later ``catalogVersion``)."""
    doc = json.loads(REAL_KEV.read_bytes())
    doc.update(changes)
    return json.dumps(doc, indent=2).encode()


@cache
def epss_text() -> str:
    """The real EPSS daily file, uncompressed."""
    return gzip.decompress(REAL_EPSS.read_bytes()).decode()


def epss_bytes(score_date: str = "2026-01-30T12:55:00Z", *, body: str | None = None) -> bytes:
    """The real EPSS file (or ``body``) re-dated to ``score_date``, gzip-compressed.

    At gzip's fastest level: a valid gzip stream of the same content (what the refresh checks),
    eight times quicker to make than at level 9 for the 9.5 MB file, and still well under the
    download limit."""
    text = epss_text() if body is None else body
    first, _, rest = text.partition("\n")
    assert first.startswith("#model_version:")
    return gzip.compress(f"#model_version:v2025.03.14,score_date:{score_date}\n{rest}".encode(), compresslevel=1,
                         mtime=0)


@pytest.fixture
def feeds_dir(tmp_path: Path) -> Path:
    """An empty feeds folder, as on a fresh installation."""
    return tmp_path / "feeds"
