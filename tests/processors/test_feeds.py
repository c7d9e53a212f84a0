"""Specification of the exploitability feeds (processors/enrich/feeds.py) and the shipped snapshot."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from processors.enrich.feeds import (
    DATA_DIR,
    DEFAULT_EXTRA_CVES,
    load_default_feeds,
    load_epss,
    load_feeds,
    refresh_feeds,
)
from processors.errors import ConfigurationError

SHARED = Path("/work/shared/data")
FULL_KEV = SHARED / "known_exploited_vulnerabilities.json"
FULL_EPSS = SHARED / "epss_scores-2026-01-30.csv.gz"
needs_shared = pytest.mark.skipif(not FULL_KEV.exists(), reason="full upstream feed files not present on this machine")


def test_shipped_snapshot_loads_and_is_small() -> None:
    feeds = load_default_feeds()
    assert feeds.kev_catalog_version == "2026.08.21"
    assert feeds.epss_score_date == "2026-01-30"
    assert feeds.epss_model_version == "v2025.03.14"
    assert len(feeds.kev) == 1674
    assert feeds.in_kev("CVE-2023-44487") and not feeds.in_kev("CVE-2023-38545")
    assert feeds.epss_of("CVE-2023-38545") is not None
    assert all(feeds.epss_of(c) is not None for c in DEFAULT_EXTRA_CVES)
    assert 1500 < len(feeds.epss) < 10_000
    assert feeds.as_of == "kev:2026.08.21 epss:2026-01-30"
    total = sum(f.stat().st_size for f in DATA_DIR.iterdir() if f.is_file())
    assert total < 1_000_000
    assert (DATA_DIR / "README.md").exists()


def test_feeds_are_immutable() -> None:
    feeds = load_default_feeds()
    with pytest.raises(TypeError):
        feeds.epss["CVE-0000-0000"] = feeds.epss["CVE-2023-38545"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        feeds.kev_catalog_version = "x"  # type: ignore[misc]


def _write_epss(path: Path, body: str, *, gz: bool) -> Path:
    if gz:
        path.write_bytes(gzip.compress(body.encode()))
    else:
        path.write_text(body)
    return path


@pytest.mark.parametrize("gz", [True, False])
def test_epss_parser_handles_header_and_scientific_notation(tmp_path: Path, gz: bool) -> None:
    body = "#model_version:v2025.03.14,score_date:2026-01-30T12:55:00Z\ncve,epss,percentile\nCVE-1999-1170,2e-05,0.00039\nCVE-1999-0001,0.01151,0.78086\n"
    model, date, scores = load_epss(_write_epss(tmp_path / "e.csv", body, gz=gz))
    assert (model, date) == ("v2025.03.14", "2026-01-30T12:55:00Z")
    assert scores["CVE-1999-1170"].epss == pytest.approx(2e-05)


def test_epss_without_metadata_line_takes_the_given_date(tmp_path: Path) -> None:
    path = _write_epss(tmp_path / "crawl.csv", "cve,epss,percentile\nCVE-1999-0001,0.033510000,0.876500000\n", gz=False)
    model, date, scores = load_epss(path, score_date="2026-08-15")
    assert (model, date, scores["CVE-1999-0001"].percentile) == ("", "2026-08-15", 0.8765)


@pytest.mark.parametrize("body", ["cve;epss;percentile\n", "cve,epss,percentile\nCVE-1,abc,0.1\n"])
def test_bad_epss_file_is_a_configuration_error(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigurationError):
        load_epss(_write_epss(tmp_path / "bad.csv", body, gz=False))


def test_bad_kev_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "kev.json").write_text(json.dumps({"title": "x"}))
    with pytest.raises(ConfigurationError, match="KEV"):
        load_feeds(tmp_path / "kev.json", DATA_DIR / "epss-2026-01-30.csv.gz")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_feeds(tmp_path / "missing.json", DATA_DIR / "epss-2026-01-30.csv.gz")


@needs_shared
def test_refresh_from_the_full_files_reproduces_the_shipped_snapshot(tmp_path: Path) -> None:
    out = refresh_feeds(FULL_KEV, FULL_EPSS, tmp_path)
    assert out.kev.name == "kev-2026.08.21.json" and out.epss.name == "epss-2026-01-30.csv.gz"
    assert out.kev_entries == 1674
    assert out.kev.read_bytes() == (DATA_DIR / out.kev.name).read_bytes()
    assert out.epss.read_bytes() == (DATA_DIR / out.epss.name).read_bytes()
    full = load_feeds(FULL_KEV, FULL_EPSS)
    small = load_feeds(out.kev, out.epss)
    assert small.kev == full.kev and small.kev_ransomware == full.kev_ransomware
    for cve, score in small.epss.items():
        assert full.epss[cve] == score
    assert all(cve in small.epss for cve in full.kev if cve in full.epss)


@needs_shared
def test_refresh_reads_the_cisa_original_byte_format(tmp_path: Path) -> None:
    doc = json.loads(FULL_KEV.read_text())
    original = json.dumps(doc, indent=4, ensure_ascii=True).replace("/", "\\/")
    (tmp_path / "cisa.json").write_text(original)
    out = refresh_feeds(tmp_path / "cisa.json", FULL_EPSS, tmp_path / "snap", random_others=10)
    assert load_feeds(out.kev, out.epss).kev == frozenset(v["cveID"] for v in doc["vulnerabilities"])


def test_refresh_from_urls_uses_the_fetch_seam(tmp_path: Path) -> None:
    kev = {"catalogVersion": "2030.01.01", "dateReleased": "2030-01-01T00:00:00Z", "count": 1,
           "vulnerabilities": [{"cveID": "CVE-2030-0001", "dateAdded": "2030-01-01", "knownRansomwareCampaignUse": "Known",
                                "vendorProject": "V", "product": "P", "extra": "dropped"}]}
    epss = "#model_version:v2030.01.01,score_date:2030-01-02T12:00:00Z\ncve,epss,percentile\nCVE-2030-0001,0.5,0.9\nCVE-2030-0002,0.1,0.2\n"
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return json.dumps(kev).encode() if url.endswith(".json") else gzip.compress(epss.encode())

    (tmp_path / "kev-2000.01.01.json").write_text("old")
    out = refresh_feeds("https://example.test/kev.json", "https://example.test/epss.csv.gz", tmp_path, fetch=fetch, random_others=0)
    assert calls == ["https://example.test/kev.json", "https://example.test/epss.csv.gz"]
    assert not (tmp_path / "kev-2000.01.01.json").exists()
    feeds = load_default_feeds(tmp_path)
    assert feeds.kev_ransomware == {"CVE-2030-0001"}
    assert set(feeds.epss) == {"CVE-2030-0001"}
    assert "extra" not in out.kev.read_text()


def test_refresh_without_score_date_is_refused(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("cve,epss,percentile\nCVE-1999-0001,0.1,0.2\n")
    with pytest.raises(ConfigurationError, match="score_date"):
        refresh_feeds(DATA_DIR / "kev-2026.08.21.json", tmp_path / "e.csv", tmp_path / "out")
