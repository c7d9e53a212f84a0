"""What a download must be to replace a feed: CISA's KEV schema, a complete EPSS daily file."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from connectors.feeds.settings import FeedSettings
from connectors.feeds.verify import KEV_SCHEMA_PATH, FeedVerificationError, verify_epss, verify_kev
from tests.connectors.feeds.conftest import REAL_EPSS, REAL_KEV, epss_bytes, epss_text, kev_bytes

SETTINGS = FeedSettings()


def test_the_vendored_schema_is_cisas_file() -> None:
    readme = (KEV_SCHEMA_PATH.parent / "README.md").read_text()
    digest = re.search(r"^([0-9a-f]{64})  known_exploited_vulnerabilities_schema.json$", readme, re.M)
    assert digest and hashlib.sha256(KEV_SCHEMA_PATH.read_bytes()).hexdigest() == digest.group(1)


def test_the_real_kev_catalogue_verifies_in_both_serialisations() -> None:
    kev = verify_kev(REAL_KEV.read_bytes(), SETTINGS, "kev.json")
    assert (kev.catalog_version, len(kev.entries)) == ("2026.08.21", 1674)
    # cisa.gov's own bytes: 4-space indent, ASCII only, every "/" escaped.
    cisa = json.dumps(json.loads(REAL_KEV.read_bytes()), indent=4, ensure_ascii=True).replace("/", "\\/")
    assert verify_kev(cisa.encode(), SETTINGS, "cisa.json") == kev


def _first_entry(change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(REAL_KEV.read_bytes())
    change(doc["vulnerabilities"][0])
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("data", "reason"), [
    (_first_entry(lambda v: v.pop("dueDate")), "'dueDate' is a required property"),
    (_first_entry(lambda v: v.update(cveID="CVE-26-1")), "does not match"),
    (_first_entry(lambda v: v.update(dateAdded="2026-13-45")), "is not a 'date'"),
    (_first_entry(lambda v: v.update(cwes=["XSS"])), "does not match"),
    (kev_bytes(dateReleased="yesterday"), "is not a 'date-time'"),
    (kev_bytes(count=1675), "count says 1675 but 1674"),
    (kev_bytes(catalogVersion="../../etc/passwd"), "not YYYY.MM.DD"),
    (kev_bytes(vulnerabilities=json.loads(REAL_KEV.read_bytes())["vulnerabilities"][:10], count=10), "fewer than the 1000"),
    (REAL_KEV.read_bytes()[:700_000], "not JSON"),
    (b"<html><body>Access Denied</body></html>", "not JSON"),
])
def test_a_kev_download_that_is_not_a_valid_catalogue_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(FeedVerificationError, match=re.escape(reason)):
        verify_kev(data, SETTINGS, "kev.json")


def test_a_kev_listing_a_cve_twice_is_refused() -> None:
    doc = json.loads(REAL_KEV.read_bytes())
    doc["vulnerabilities"].append(doc["vulnerabilities"][0])
    doc["count"] += 1
    with pytest.raises(FeedVerificationError, match="listed twice"):
        verify_kev(json.dumps(doc).encode(), SETTINGS, "kev.json")


def test_the_real_epss_file_verifies_compressed_or_not() -> None:
    epss = verify_epss(REAL_EPSS.read_bytes(), SETTINGS, "epss.csv.gz")
    assert (epss.model_version, epss.score_date, len(epss.scores)) == ("v2025.03.14", "2026-01-30T12:55:00Z", 313_089)
    assert len(verify_epss(epss_text().encode(), SETTINGS, "epss.csv").scores) == 313_089


def _replace_header(line: str) -> bytes:
    return gzip.compress((line + "\n" + epss_text().partition("\n")[2]).encode())


@pytest.mark.parametrize(("data", "reason"), [
    (REAL_EPSS.read_bytes()[: 1_000_000], "truncated gzip"),
    (REAL_EPSS.read_bytes()[:100] + bytes(1000) + REAL_EPSS.read_bytes()[1100:], "gzip"),
    (gzip.compress(epss_text().partition("\n")[2].encode()), "no '#model_version"),
    (_replace_header("#model_version:latest,score_date:2026-01-30T12:55:00Z"), "model_version 'latest'"),
    (_replace_header("#model_version:v2025.03.14,score_date:20260130"), "score_date '20260130'"),
    (epss_bytes(body=epss_text().replace("cve,epss,percentile", "cve,score,percentile", 1)), "expected header"),
    (epss_bytes(body=epss_text().replace("CVE-1999-0001,", "CVE-1999-0001,7", 1)), "outside 0-1"),
    (epss_bytes(body="\n".join(epss_text().split("\n")[:50_000])), "49998 rows, fewer than the 200000"),
    (b"<!DOCTYPE html><title>503</title>", "expected header"),
])
def test_an_epss_download_that_is_not_a_complete_daily_file_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(FeedVerificationError, match=re.escape(reason)):
        verify_epss(data, SETTINGS, "epss.csv.gz")


def test_an_epss_gzip_bomb_is_refused_before_it_is_inflated() -> None:
    with pytest.raises(FeedVerificationError, match="inflates to more than"):
        verify_epss(REAL_EPSS.read_bytes(), FeedSettings(max_inflated_bytes=1_000_000), "epss.csv.gz")
