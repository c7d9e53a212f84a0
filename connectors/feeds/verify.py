"""Whether downloaded bytes are a KEV catalogue or an EPSS daily file fit to replace the current one.

A download is refused whole (:class:`FeedVerificationError`) unless:

* KEV: the JSON validates against CISA's own JSON Schema (``known_exploited_vulnerabilities_schema.json``,
  draft-07, formats ``date`` and ``date-time`` checked), ``count`` equals the number of entries,
  no CVE is listed twice, ``catalogVersion`` is a ``YYYY.MM.DD`` date (it names the file) and
  there are at least ``min_kev_entries`` entries.
* EPSS: it gunzips within ``max_inflated_bytes``, starts with the
  ``#model_version:vYYYY.MM.DD,score_date:<ISO-8601>`` line, has the columns ``cve,epss,percentile``,
  every row is a CVE id with a probability and a percentile in 0-1, no CVE twice, and there are at
  least ``min_epss_rows`` rows (a daily file lists every scored CVE: 313k in January 2026).

A truncated transfer, an HTML error page served with status 200 or a half-written mirror fails one
of these checks, so the workers keep the feed they had.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

from connectors.base import ResponseFormatError
from connectors.feeds.settings import FeedSettings
from processors.enrich.feeds import EpssFile, KevCatalogue, decode_feed, parse_epss, parse_kev
from processors.errors import ConfigurationError

__all__ = ["KEV_SCHEMA_PATH", "FeedVerificationError", "kev_schema", "verify_epss", "verify_kev"]

KEV_SCHEMA_PATH = Path(__file__).resolve().parent / "known_exploited_vulnerabilities_schema.json"
_CATALOG_VERSION = re.compile(r"^\d{4}\.\d{2}\.\d{2}$")
_MODEL_VERSION = re.compile(r"^v\d{4}\.\d{2}\.\d{2}$")
_SCORE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T")


class FeedVerificationError(ResponseFormatError):
    """A download that is not a valid feed file; the feed in use stays as it was."""


@cache
def kev_schema() -> dict[str, Any]:
    """CISA's JSON Schema of the KEV catalogue (vendored; see the README beside it)."""
    schema: dict[str, Any] = json.loads(KEV_SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or ("T" in value and bool(datetime.fromisoformat(value)))


def _format_checker() -> FormatChecker:
    """Checks the two formats CISA's schema uses; ``date-time`` needs no optional package this way."""
    checker = FormatChecker(formats=())
    checker.checks("date", raises=ValueError)(_is_date)
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    return checker


def verify_kev(data: bytes, settings: FeedSettings, origin: str) -> KevCatalogue:
    """The parsed catalogue when ``data`` is a valid KEV JSON document (see module doc)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedVerificationError(f"{origin}: not JSON: {exc}") from exc
    validator = Draft7Validator(kev_schema(), format_checker=_format_checker())
    problems = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if problems:
        where = "/".join(map(str, problems[0].absolute_path)) or "(document)"
        raise FeedVerificationError(
            f"{origin}: {len(problems)} violation(s) of CISA's KEV schema, first at {where}: "
            f"{problems[0].message[:160]}")
    vulns = doc["vulnerabilities"]
    cves = [v["cveID"] for v in vulns]
    if doc["count"] != len(vulns):
        raise FeedVerificationError(f"{origin}: count says {doc['count']} but {len(vulns)} entries are listed")
    if len(set(cves)) != len(cves):
        raise FeedVerificationError(f"{origin}: a CVE is listed twice")
    if not _CATALOG_VERSION.match(doc["catalogVersion"]):
        raise FeedVerificationError(f"{origin}: catalogVersion {doc['catalogVersion'][:40]!r} is not YYYY.MM.DD")
    if len(vulns) < settings.min_kev_entries:
        raise FeedVerificationError(
            f"{origin}: {len(vulns)} entries, fewer than the {settings.min_kev_entries} a full catalogue has")
    return parse_kev(data, origin)


def verify_epss(data: bytes, settings: FeedSettings, origin: str) -> EpssFile:
    """The parsed file when ``data`` (gzip or plain) is a complete EPSS daily file (see module doc)."""
    try:
        text = decode_feed(data, origin, max_bytes=settings.max_inflated_bytes).decode("utf-8")
        epss = parse_epss(text, origin)
    except (ConfigurationError, UnicodeDecodeError) as exc:
        raise FeedVerificationError(f"{origin}: {exc}") from exc
    if not text.startswith("#"):
        raise FeedVerificationError(f"{origin}: no '#model_version:…,score_date:…' line")
    if not _MODEL_VERSION.match(epss.model_version):
        raise FeedVerificationError(f"{origin}: model_version {epss.model_version[:40]!r} is not vYYYY.MM.DD")
    try:
        if not _SCORE_DATE.match(epss.score_date):
            raise ValueError("no YYYY-MM-DDT prefix")
        datetime.fromisoformat(epss.score_date)
    except ValueError as exc:
        raise FeedVerificationError(f"{origin}: score_date {epss.score_date[:40]!r} is not an ISO-8601 time") from exc
    if len(epss.scores) < settings.min_epss_rows:
        raise FeedVerificationError(
            f"{origin}: {len(epss.scores)} rows, fewer than the {settings.min_epss_rows} a daily file has")
    return epss
