"""Specification of the exploitability feeds (processors/enrich/feeds.py, epss.py) and the shipped snapshot.

Reading the files from folders is :mod:`connectors.feeds.store`'s (tests/connectors/feeds/test_store.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

from connectors.feeds.store import SHIPPED_FEEDS_DIR, load_default_feeds
from processors.enrich.epss import EpssScore, EpssTable, parse_epss
from processors.enrich.feeds import decode_feed, parse_kev, read_epss
from processors.errors import ConfigurationError

SHIPPED_KEV = SHIPPED_FEEDS_DIR / "kev-2026.08.21.json"
SHIPPED_EPSS = SHIPPED_FEEDS_DIR / "epss-2026-01-30.csv.gz"
HEAD = "#model_version:v2025.03.14,score_date:2026-01-30T12:55:00Z\ncve,epss,percentile\n"


def test_shipped_snapshot_is_the_complete_kev_catalogue_and_epss_file() -> None:
    feeds = load_default_feeds()
    assert feeds.kev_catalog_version == "2026.08.21"
    assert feeds.epss_score_date == "2026-01-30"
    assert feeds.epss_model_version == "v2025.03.14"
    assert len(feeds.kev) == 1674 and len(feeds.kev_ransomware) == 352
    assert len(feeds.epss) == 313_089
    assert feeds.in_kev("CVE-2023-44487") and not feeds.in_kev("CVE-2023-38545")
    assert feeds.epss_of("CVE-2023-38545") == EpssScore(0.2625, 0.96163)
    assert feeds.epss_of("CVE-1999-1170") == EpssScore(2e-05, 0.00039)  # scientific notation in the file
    assert feeds.as_of == "kev:2026.08.21 epss:2026-01-30"
    # KEV CVEs added after the EPSS score date have no score; all the others do.
    assert sum(cve in feeds.epss for cve in feeds.kev) == 1562


def test_shipped_files_match_the_hashes_the_readme_records() -> None:
    readme = (SHIPPED_FEEDS_DIR / "README.md").read_text()
    listed = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M))
    assert {SHIPPED_KEV.name, SHIPPED_EPSS.name} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((SHIPPED_FEEDS_DIR / name).read_bytes()).hexdigest() == digest, name


def test_feeds_are_immutable() -> None:
    feeds = load_default_feeds()
    with pytest.raises(TypeError):
        feeds.epss["CVE-0000-0000"] = feeds.epss["CVE-2023-38545"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        feeds.kev_catalog_version = "x"  # type: ignore[misc]


@pytest.mark.parametrize("cve", ["CVE-2023-38545 ", "cve-2023-38545", "CVE-２０２３-38545", "CVE-2023-038545",
                                 "CVE-2023", "", "CVE-2023-38545\x00", "CVE-2023-3854５"])
def test_ids_that_are_not_exactly_a_listed_cve_miss(cve: str) -> None:
    """Alert content is untrusted: look-alike ids never borrow a real CVE's score."""
    feeds = load_default_feeds()
    assert feeds.epss_of(cve) is None and cve not in feeds.epss


def test_table_round_trips_every_cve_id_format_including_ones_that_do_not_pack() -> None:
    scores = {"CVE-1999-0001": EpssScore(0.1, 0.2), "CVE-2021-1000123": EpssScore(0.3, 0.4),
              "CVE-2024-123456789012345678": EpssScore(0.5, 0.6), "CVE-2020-01234": EpssScore(0.7, 0.8)}
    body = "".join(f"{cve},{s.epss},{s.percentile}\n" for cve, s in scores.items())
    table = parse_epss(HEAD + body, "t.csv").scores
    assert dict(table) == scores and len(table) == 4
    assert table == EpssTable.from_scores(scores)
    assert "CVE-1999-0002" not in table


@pytest.mark.parametrize("gz", [True, False])
def test_epss_parser_handles_header_and_scientific_notation(tmp_path: Path, gz: bool) -> None:
    body = HEAD + "CVE-1999-1170,2e-05,0.00039\nCVE-1999-0001,0.01151,0.78086\n"
    path = tmp_path / "e.csv"
    path.write_bytes(gzip.compress(body.encode()) if gz else body.encode())
    model, date, scores = read_epss(path.read_bytes(), str(path))
    assert (model, date) == ("v2025.03.14", "2026-01-30T12:55:00Z")
    assert scores["CVE-1999-1170"].epss == pytest.approx(2e-05)
    assert list(scores) == ["CVE-1999-0001", "CVE-1999-1170"]  # kept in CVE order


def test_epss_without_metadata_line_takes_the_given_date(tmp_path: Path) -> None:
    path = tmp_path / "crawl.csv"
    path.write_text("cve,epss,percentile\nCVE-1999-0001,0.033510000,0.876500000\n")
    model, date, scores = read_epss(path.read_bytes(), str(path), score_date="2026-08-15")
    assert (model, date, scores["CVE-1999-0001"].percentile) == ("", "2026-08-15", 0.8765)


def test_epss_rows_with_crlf_or_blank_lines_still_parse() -> None:
    table = parse_epss(HEAD.replace("\n", "\r\n") + "CVE-1999-0001,0.1,0.2\r\n\r\nCVE-1999-0002,0.3,0.4\r\n", "x").scores
    assert dict(table) == {"CVE-1999-0001": (0.1, 0.2), "CVE-1999-0002": (0.3, 0.4)}


@pytest.mark.parametrize(("body", "line"), [
    ("cve;epss;percentile\n", "header"),
    (HEAD + "CVE-1999-0001,abc,0.1\n", ":3:"),
    (HEAD + "CVE-1999-0001,0.1,0.2\nCVE-1999-0002,1.5,0.1\n", ":4:"),
    (HEAD + "CVE-1999-0001,nan,0.1\n", ":3:"),
    (HEAD + "CVE-1999-0001,0.1,-0.1\n", ":3:"),
    (HEAD + "CVE-1999-0001,0.1\n", ":3:"),
    (HEAD + "GHSA-xxxx-yyyy,0.1,0.2\n", ":3:"),
    (HEAD + "CVE-1999-0002,0.1,0.2\nCVE-1999-0001,0.1,0.2\nCVE-1999-0002,0.3,0.4\n", "CVE-1999-0002 is listed twice"),
])
def test_bad_epss_file_is_refused_whole_naming_the_line(body: str, line: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(line)):
        parse_epss(body, "bad.csv")


def test_kev_parser_reads_the_byte_format_cisa_serves() -> None:
    """cisa.gov serves 4-space indent, ASCII only, ``\\/`` escapes; the snapshot is a re-serialisation."""
    doc = json.loads(SHIPPED_KEV.read_bytes())
    original = json.dumps(doc, indent=4, ensure_ascii=True).replace("/", "\\/").encode()
    kev = parse_kev(original, "cisa.json")
    assert kev.catalog_version == "2026.08.21" and kev.date_released == "2026-08-21T17:46:43.6019Z"
    assert frozenset(e.cve for e in kev.entries) == load_default_feeds().kev


def test_a_truncated_or_oversized_gzip_is_refused() -> None:
    packed = SHIPPED_EPSS.read_bytes()
    with pytest.raises(ConfigurationError, match="truncated"):
        decode_feed(packed[: len(packed) // 2], "half.gz")
    with pytest.raises(ConfigurationError, match="not a valid gzip"):
        decode_feed(packed[:20] + b"\x00" * 200 + packed[220:], "garbled.gz")
    with pytest.raises(ConfigurationError, match="more than 1000 bytes"):
        decode_feed(packed, "bomb.gz", max_bytes=1000)
