"""Exploitability feeds: the CISA KEV catalogue and FIRST EPSS scores, as an immutable lookup.

A worker loads them once at start-up (:func:`load_feeds`, :func:`newest_snapshot`) and shares the
:class:`ExploitFeeds` with every record. The repository ships a complete, dated snapshot in
``processors/enrich/data/`` (the whole KEV catalogue and every row of one daily EPSS file; see the
README there). ``prismaflow feeds refresh`` (``connectors/feeds``) downloads newer files into the
worker's feeds folder under the same names; a worker takes, feed by feed, the newest file of that
folder and of the shipped snapshot.

File names carry the feed's date, so the newest sorts last: ``kev-<catalogVersion>.json``
(``kev-2026.08.21.json``) and ``epss-<score date>.csv.gz`` (``epss-2026-01-30.csv.gz``). Formats:

* KEV JSON: ``{"catalogVersion", "dateReleased", "count", "vulnerabilities": [{"cveID", ...}]}``
  (CISA's schema; the file is kept exactly as CISA served it).
* EPSS CSV, optionally gzip: see :mod:`processors.enrich.epss`.

Parsing is pure (:func:`parse_kev`, :func:`parse_epss`: bytes in, values out); the ``load_*``
helpers only read local files. Failure: a file that is missing or not in these formats raises
:class:`ConfigurationError` naming the file; a feed is configuration, not a record.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from processors.enrich.epss import EpssFile, EpssScore, EpssTable, parse_epss
from processors.errors import ConfigurationError

__all__ = [
    "DATA_DIR",
    "EPSS_PATTERN",
    "KEV_PATTERN",
    "EpssFile",
    "EpssScore",
    "EpssTable",
    "ExploitFeeds",
    "KevCatalogue",
    "KevEntry",
    "SnapshotFiles",
    "build_feeds",
    "decode_feed",
    "epss_file_name",
    "kev_file_name",
    "load_default_feeds",
    "load_epss",
    "load_feeds",
    "load_kev",
    "newest_snapshot",
    "parse_epss",
    "parse_kev",
]

#: The snapshot shipped with the code: complete KEV and EPSS files (README beside them).
DATA_DIR = Path(__file__).resolve().parent / "data"
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


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"feed file {path} cannot be read: {exc}") from exc
    return decode_feed(data, str(path))


def load_kev(path: Path) -> tuple[str, tuple[KevEntry, ...]]:
    """Read a KEV JSON file; returns (catalogVersion, entries)."""
    kev = parse_kev(_read(path), str(path))
    return kev.catalog_version, kev.entries


def _epss_text(path: Path) -> str:
    try:
        return _read(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path} is not UTF-8 text: {exc}") from exc


def load_epss(path: Path, score_date: str = "") -> tuple[str, str, EpssTable]:
    """Read an EPSS CSV or CSV.gz; returns (model_version, score_date, scores).

    ``score_date`` is used when the file has no ``#`` metadata line (API-crawl subsets).
    """
    epss = parse_epss(_epss_text(path), str(path))
    return epss.model_version, epss.score_date or score_date, epss.scores


@lru_cache(maxsize=4)
def _load_cached(kev_path: Path, kev_stamp: tuple[int, int], epss_path: Path,
                 epss_stamp: tuple[int, int]) -> ExploitFeeds:
    kev = parse_kev(_read(kev_path), str(kev_path))
    return build_feeds(kev, parse_epss(_epss_text(epss_path), str(epss_path)))


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigurationError(f"feed file {path} cannot be read: {exc}") from exc
    return stat.st_mtime_ns, stat.st_size


def load_feeds(kev_path: Path, epss_path: Path) -> ExploitFeeds:
    """Load one KEV file and one EPSS file into an :class:`ExploitFeeds`.

    The result is immutable, so loading the same unchanged files again (several stages in one
    process, a test suite) returns the same object instead of parsing 300k rows once more.
    """
    kev_path, epss_path = kev_path.resolve(), epss_path.resolve()
    return _load_cached(kev_path, _stamp(kev_path), epss_path, _stamp(epss_path))


class SnapshotFiles(NamedTuple):
    """The KEV and EPSS files a worker loads."""

    kev: Path
    epss: Path


def _newest(directories: tuple[Path, ...], pattern: str) -> Path:
    # Names carry the feed's date, so the greatest name is the newest; on a tie the earlier
    # folder wins (the refreshed folder before the shipped snapshot).
    found = [(path.name, -rank, path) for rank, folder in enumerate(directories) for path in folder.glob(pattern)
             if path.is_file()]
    if not found:
        raise ConfigurationError(f"no {pattern} in {', '.join(map(str, directories))}; run `prismaflow feeds refresh`")
    return max(found)[2]


def newest_snapshot(*directories: Path) -> SnapshotFiles:
    """Feed by feed, the newest ``kev-*.json`` and ``epss-*.csv.gz`` found in ``directories``."""
    folders = directories or (DATA_DIR,)
    return SnapshotFiles(_newest(folders, KEV_PATTERN), _newest(folders, EPSS_PATTERN))


def load_default_feeds(directory: Path = DATA_DIR) -> ExploitFeeds:
    """Load the newest KEV and EPSS files of ``directory`` (by default the shipped snapshot).

    Called once at worker start-up; the result is shared by every record.
    """
    files = newest_snapshot(directory)
    return load_feeds(files.kev, files.epss)
