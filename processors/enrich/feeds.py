"""Exploitability feeds: the CISA KEV catalogue and FIRST EPSS scores, as an immutable lookup.

A worker loads them once at start-up and shares the :class:`ExploitFeeds` with every record. The
repository ships a complete, dated snapshot in ``processors/enrich/data/`` (the whole KEV catalogue
and every row of one daily EPSS file; see the README there). ``prismaflow feeds refresh``
(``connectors/feeds``) downloads newer files into the worker's feeds folder under the same names; a
worker takes, feed by feed, the newest file of that folder and of the shipped snapshot. Finding and
reading those files is :mod:`connectors.feeds.store`'s job; this module only turns their bytes into
values.

File names carry the feed's date, so the newest sorts last: ``kev-<catalogVersion>.json``
(``kev-2026.08.21.json``) and ``epss-<score date>.csv.gz`` (``epss-2026-01-30.csv.gz``). Formats:

* KEV JSON: ``{"catalogVersion", "dateReleased", "count", "vulnerabilities": [{"cveID", ...}]}``
  (CISA's schema; the file is kept exactly as CISA served it).
* EPSS CSV, optionally gzip: see :mod:`processors.enrich.epss`.

Everything here is pure (:func:`parse_kev`, :func:`read_epss`, :func:`feeds_from_bytes`: bytes
in, values out). Failure: bytes not in these formats raise :class:`ConfigurationError` naming
their origin (the file); a feed is configuration, not a record.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from processors.enrich.epss import EpssFile, EpssScore, EpssTable, parse_epss
from processors.errors import ConfigurationError

__all__ = [
    "EPSS_PATTERN",
    "KEV_PATTERN",
    "EpssFile",
    "EpssScore",
    "EpssTable",
    "ExploitFeeds",
    "KevCatalogue",
    "KevEntry",
    "build_feeds",
    "decode_feed",
    "epss_file_name",
    "feeds_from_bytes",
    "kev_file_name",
    "parse_epss",
    "parse_kev",
    "read_epss",
]

#: How feed files are named (the date sorts last, so the greatest name is the newest).
KEV_PATTERN = "kev-*.json"
EPSS_PATTERN = "epss-*.csv.gz"


class KevEntry(NamedTuple):
    """The fields of one KEV entry that enrichment and reports use."""

    cve: str
    date_added: str
    ransomware: bool
    vendor_project: str
    product: str


class KevCatalogue(NamedTuple):
    """One parsed KEV catalogue: its version (``YYYY.MM.DD``), release time and entries."""

    catalog_version: str
    date_released: str
    entries: tuple[KevEntry, ...]


@dataclass(frozen=True, slots=True)
class ExploitFeeds:
    """Immutable lookup over one KEV catalogue and one EPSS score file; safe to share across threads."""

    epss: Mapping[str, EpssScore] = field(default_factory=lambda: EpssTable.from_scores({}))
    kev: frozenset[str] = frozenset()
    kev_ransomware: frozenset[str] = frozenset()
    kev_catalog_version: str = ""
    epss_score_date: str = ""
    epss_model_version: str = ""

    def epss_of(self, cve: str) -> EpssScore | None:
        """Return the EPSS score of ``cve``, or None when the feed does not list it."""
        return self.epss.get(cve)

    def in_kev(self, cve: str) -> bool:
        """Whether ``cve`` is in the KEV catalogue."""
        return cve in self.kev

    @property
    def as_of(self) -> str:
        """The dates of the snapshots, as stored in ``Enrichment.feeds_as_of``."""
        return f"kev:{self.kev_catalog_version or 'none'} epss:{self.epss_score_date or 'none'}"


def decode_feed(data: bytes, origin: str, *, max_bytes: int = 256 * 1024 * 1024) -> bytes:
    """``data``, gunzipped when it starts with the gzip magic; at most ``max_bytes`` once inflated.

    The limit refuses a decompression bomb; a truncated or corrupt gzip stream is refused too.
    """
    if data[:2] != b"\x1f\x8b":
        return data
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes)
        if inflater.unconsumed_tail:
            raise ConfigurationError(f"{origin} inflates to more than {max_bytes} bytes")
        if not inflater.eof:
            raise ConfigurationError(f"{origin} is a truncated gzip stream")
    except zlib.error as exc:
        raise ConfigurationError(f"{origin} is not a valid gzip stream: {exc}") from exc
    return out


def parse_kev(data: bytes, origin: str) -> KevCatalogue:
    """Parse a KEV JSON document (CISA's bytes or any re-serialisation of them)."""
    try:
        doc = json.loads(data)
        entries = tuple(
            KevEntry(
                cve=str(v["cveID"]),
                date_added=str(v.get("dateAdded", "")),
                ransomware=str(v.get("knownRansomwareCampaignUse", "")).lower() == "known",
                vendor_project=str(v.get("vendorProject", "")),
                product=str(v.get("product", "")),
            )
            for v in doc["vulnerabilities"]
        )
        return KevCatalogue(str(doc["catalogVersion"]), str(doc.get("dateReleased", "")), entries)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"{origin} is not a CISA KEV JSON catalogue: {exc!r:.120}") from exc


def build_feeds(kev: KevCatalogue, epss: EpssFile) -> ExploitFeeds:
    """The lookup over one parsed KEV catalogue and one parsed EPSS file."""
    return ExploitFeeds(
        epss=epss.scores,
        kev=frozenset(e.cve for e in kev.entries),
        kev_ransomware=frozenset(e.cve for e in kev.entries if e.ransomware),
        kev_catalog_version=kev.catalog_version,
        epss_score_date=epss.score_date[:10],
        epss_model_version=epss.model_version,
    )


def kev_file_name(catalog_version: str) -> str:
    """The snapshot file name of KEV catalogue ``catalog_version`` (``YYYY.MM.DD``)."""
    return f"kev-{catalog_version}.json"


def epss_file_name(score_date: str) -> str:
    """The snapshot file name of the EPSS scores of ``score_date`` (its first 10 characters)."""
    return f"epss-{score_date[:10]}.csv.gz"


def read_epss(data: bytes, origin: str, *, score_date: str = "") -> EpssFile:
    """An EPSS CSV or CSV.gz file's bytes, parsed; ``score_date`` stands in when it has no ``#`` line.

    Files without the metadata line are API-crawl subsets; their date comes from elsewhere.
    """
    try:
        text = decode_feed(data, origin).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{origin} is not UTF-8 text: {exc}") from exc
    epss = parse_epss(text, origin)
    return epss if epss.score_date else epss._replace(score_date=score_date)


def feeds_from_bytes(kev: bytes, epss: bytes, *, kev_origin: str, epss_origin: str) -> ExploitFeeds:
    """The lookup over one KEV file and one EPSS file, given as the bytes of the files."""
    return build_feeds(parse_kev(decode_feed(kev, kev_origin), kev_origin), read_epss(epss, epss_origin))
