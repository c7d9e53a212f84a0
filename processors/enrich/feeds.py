"""Exploitability feeds: the CISA KEV catalogue and FIRST EPSS scores, as an immutable lookup.

:func:`load_default_feeds` reads the small dated snapshot shipped in ``processors/enrich/data/``
(once, at start-up); :func:`refresh_feeds` rebuilds that snapshot from full upstream files or
URLs (the ``prismaflow`` CLI calls it). Formats (``/work/shared/data/README.md``):

* KEV JSON: ``{"catalogVersion", "dateReleased", "count", "vulnerabilities": [{"cveID", ...}]}``.
* EPSS CSV, optionally gzip: an optional ``#model_version:…,score_date:…`` comment line, then the
  header ``cve,epss,percentile``; values may use scientific notation.

Failure: a file that is missing or not in these formats raises :class:`ConfigurationError`
naming the file; a feed is configuration, not a record.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from processors.errors import ConfigurationError

__all__ = [
    "DATA_DIR",
    "DEFAULT_EXTRA_CVES",
    "EpssScore",
    "ExploitFeeds",
    "KevEntry",
    "SnapshotPaths",
    "load_default_feeds",
    "load_epss",
    "load_feeds",
    "load_kev",
    "refresh_feeds",
]

DATA_DIR = Path(__file__).resolve().parent / "data"

#: CVEs the tests, the simulator and the docs use; always kept in a rebuilt snapshot.
DEFAULT_EXTRA_CVES: tuple[str, ...] = (
    "CVE-2023-38545",  # curl SOCKS5 heap overflow (reference §6.6 example)
    "CVE-2019-25013",  # glibc (reference §7.3 example)
    "CVE-2023-44487",  # HTTP/2 Rapid Reset (KEV)
    "CVE-2021-44228",  # Log4Shell (KEV)
    "CVE-2014-0160",  # Heartbleed (KEV)
    "CVE-2022-22965",  # Spring4Shell (KEV)
    "CVE-2023-4863",  # libwebp (KEV)
    "CVE-2022-3602",  # OpenSSL punycode
    "CVE-2023-0286",  # OpenSSL X.400
    "CVE-2021-3711",  # OpenSSL SM2
    "CVE-2020-8908",  # Guava temp dir
    "CVE-2022-42889",  # Text4Shell
    "CVE-2023-5363",  # OpenSSL
    "CVE-2024-3094",  # xz backdoor
    "CVE-1999-0001",
)

_CVE = re.compile(r"^CVE-\d{4}-\d{4,19}$")
_KEV_KEEP = ("cveID", "dateAdded", "knownRansomwareCampaignUse", "vendorProject", "product")


class EpssScore(NamedTuple):
    """One CVE's EPSS probability (0-1) and percentile (0-1)."""

    epss: float
    percentile: float


class KevEntry(NamedTuple):
    cve: str
    date_added: str
    ransomware: bool
    vendor_project: str
    product: str


@dataclass(frozen=True, slots=True)
class ExploitFeeds:
    """Immutable lookup over one KEV catalogue and one EPSS score file; safe to share across threads."""

    epss: Mapping[str, EpssScore] = field(default_factory=lambda: MappingProxyType({}))
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


class _Kev(NamedTuple):
    catalog_version: str
    date_released: str
    entries: tuple[KevEntry, ...]


class _Epss(NamedTuple):
    model_version: str
    score_date: str
    scores: dict[str, EpssScore]


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"feed file {path} cannot be read: {exc}") from exc
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _parse_kev(data: bytes, origin: str) -> _Kev:
    try:
        doc = json.loads(data)
        vulns = doc["vulnerabilities"]
        entries = tuple(
            KevEntry(
                cve=v["cveID"],
                date_added=str(v.get("dateAdded", "")),
                ransomware=str(v.get("knownRansomwareCampaignUse", "")).lower() == "known",
                vendor_project=str(v.get("vendorProject", "")),
                product=str(v.get("product", "")),
            )
            for v in vulns
        )
        return _Kev(str(doc["catalogVersion"]), str(doc.get("dateReleased", "")), entries)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{origin} is not a CISA KEV JSON catalogue: {exc!r:.120}") from exc


def _parse_epss(data: bytes, origin: str) -> _Epss:
    text = data.decode("utf-8")
    lines = io.StringIO(text)
    model_version = score_date = ""
    first = lines.readline().strip()
    if first.startswith("#"):
        for pair in first[1:].split(","):
            key, _, value = pair.partition(":")
            if key.strip() == "model_version":
                model_version = value.strip()
            elif key.strip() == "score_date":
                score_date = value.strip()
        first = lines.readline().strip()
    if first.replace(" ", "") != "cve,epss,percentile":
        raise ConfigurationError(f"{origin}: expected header 'cve,epss,percentile', got {first[:60]!r}")
    scores: dict[str, EpssScore] = {}
    for n, line in enumerate(lines, start=3):
        line = line.strip()
        if not line:
            continue
        try:
            cve, epss, pct = line.split(",")
            scores[cve] = EpssScore(float(epss), float(pct))
        except ValueError as exc:
            raise ConfigurationError(f"{origin}:{n}: bad EPSS row {line[:60]!r}") from exc
    return _Epss(model_version, score_date, scores)


def load_kev(path: Path) -> tuple[str, tuple[KevEntry, ...]]:
    """Read a KEV JSON file (full or trimmed snapshot); returns (catalogVersion, entries)."""
    kev = _parse_kev(_read_bytes(path), str(path))
    return kev.catalog_version, kev.entries


def load_epss(path: Path, score_date: str = "") -> tuple[str, str, dict[str, EpssScore]]:
    """Read an EPSS CSV or CSV.gz; returns (model_version, score_date, scores).

    ``score_date`` is used when the file has no ``#`` metadata line (API-crawl subsets).
    """
    epss = _parse_epss(_read_bytes(path), str(path))
    return epss.model_version, epss.score_date or score_date, epss.scores


def load_feeds(kev_path: Path, epss_path: Path) -> ExploitFeeds:
    """Load one KEV file and one EPSS file into an :class:`ExploitFeeds`."""
    version, entries = load_kev(kev_path)
    model, date, scores = load_epss(epss_path)
    return ExploitFeeds(
        epss=MappingProxyType(scores),
        kev=frozenset(e.cve for e in entries),
        kev_ransomware=frozenset(e.cve for e in entries if e.ransomware),
        kev_catalog_version=version,
        epss_score_date=date[:10],
        epss_model_version=model,
    )


def _newest(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if not found:
        raise ConfigurationError(f"no {pattern} in {directory}; run the feed refresh")
    return found[-1]


def load_default_feeds(directory: Path = DATA_DIR) -> ExploitFeeds:
    """Load the newest ``kev-*.json`` and ``epss-*.csv.gz`` snapshot from ``directory``.

    Called once at worker start-up; the result is shared by every record.
    """
    return load_feeds(_newest(directory, "kev-*.json"), _newest(directory, "epss-*.csv.gz"))


class SnapshotPaths(NamedTuple):
    kev: Path
    epss: Path
    kev_entries: int
    epss_rows: int


Fetch = Callable[[str], bytes]


def _http_fetch(url: str) -> bytes:  # pragma: no cover - needs the network
    import httpx

    try:
        response = httpx.get(url, follow_redirects=True, timeout=60.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigurationError(f"cannot download feed {url}: {exc}") from exc
    return response.content


def _source_bytes(source: Path | str, fetch: Fetch | None) -> bytes:
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        data = (fetch or _http_fetch)(source)
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return _read_bytes(Path(source))


def refresh_feeds(
    kev_source: Path | str,
    epss_source: Path | str,
    dest_dir: Path,
    *,
    extra_cves: Iterable[str] = DEFAULT_EXTRA_CVES,
    random_others: int = 3000,
    seed: int = 20260821,
    epss_score_date: str = "",
    fetch: Fetch | None = None,
    remove_old: bool = True,
) -> SnapshotPaths:
    """Rebuild the shipped snapshot from a full KEV catalogue and a full EPSS file (paths or URLs).

    Writes ``kev-<catalogVersion>.json`` (every KEV entry, trimmed to cveID, dateAdded,
    knownRansomwareCampaignUse, vendorProject, product) and ``epss-<score date>.csv.gz``
    (the EPSS rows of every KEV CVE, of ``extra_cves``, and of ``random_others`` other CVEs
    drawn with ``random.Random(seed)`` from the sorted remainder), keeping the EPSS metadata
    line. Output is byte-for-byte reproducible for the same inputs. Older snapshot files in
    ``dest_dir`` are removed when ``remove_old``. ``fetch`` is the test seam for URLs.
    """
    kev = _parse_kev(_source_bytes(kev_source, fetch), str(kev_source))
    epss = _parse_epss(_source_bytes(epss_source, fetch), str(epss_source))
    score_date = epss.score_date or epss_score_date
    if not score_date:
        raise ConfigurationError(f"{epss_source} has no score_date line; pass epss_score_date")
    keep = {e.cve for e in kev.entries} | {c for c in extra_cves if _CVE.match(c)}
    others = sorted(c for c in epss.scores if c not in keep)
    rng = random.Random(seed)
    keep.update(rng.sample(others, min(random_others, len(others))))
    rows = sorted((c for c in keep if c in epss.scores), key=_cve_order)

    dest_dir.mkdir(parents=True, exist_ok=True)
    if remove_old:
        for old in [*dest_dir.glob("kev-*.json"), *dest_dir.glob("epss-*.csv.gz")]:
            old.unlink()
    kev_path = dest_dir / f"kev-{kev.catalog_version}.json"
    trimmed: dict[str, Any] = {
        "title": "CISA Catalog of Known Exploited Vulnerabilities (Prismaflow trimmed snapshot)",
        "catalogVersion": kev.catalog_version,
        "dateReleased": kev.date_released,
        "count": len(kev.entries),
        "vulnerabilities": [
            {
                "cveID": e.cve,
                "dateAdded": e.date_added,
                "knownRansomwareCampaignUse": "Known" if e.ransomware else "Unknown",
                "vendorProject": e.vendor_project,
                "product": e.product,
            }
            for e in kev.entries
        ],
    }
    body = ",\n".join(json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in trimmed["vulnerabilities"])
    head = json.dumps({k: v for k, v in trimmed.items() if k != "vulnerabilities"}, ensure_ascii=False)[:-1]
    kev_path.write_text(f'{head}, "vulnerabilities": [\n{body}\n]}}\n', encoding="utf-8")

    epss_path = dest_dir / f"epss-{score_date[:10]}.csv.gz"
    stamp = score_date if "T" in score_date else f"{score_date}T00:00:00Z"
    out = io.StringIO()
    out.write(f"#model_version:{epss.model_version or 'unknown'},score_date:{stamp}\n")
    out.write("cve,epss,percentile\n")
    for cve in rows:
        s = epss.scores[cve]
        out.write(f"{cve},{s.epss!r},{s.percentile!r}\n")
    # mtime=0 keeps the file reproducible, so a refresh with the same inputs changes nothing.
    with epss_path.open("wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(out.getvalue().encode("utf-8"))
    return SnapshotPaths(kev_path, epss_path, len(kev.entries), len(rows))


def _cve_order(cve: str) -> tuple[int, int, str]:
    parts = cve.split("-")
    try:
        return int(parts[1]), int(parts[2]), cve
    except (IndexError, ValueError):
        return 0, 0, cve
