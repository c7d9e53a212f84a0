"""FIRST EPSS scores as a compact, immutable lookup, and the parser of the daily EPSS file.

A daily EPSS file lists every scored CVE (313,089 rows on 2026-01-30, growing). Held as a dict of
named tuples that is about 63 MB per worker; :class:`EpssTable` keeps three sorted arrays instead
(CVE packed into one 64-bit integer, EPSS and percentile as doubles): 7.5 MB, built in about the
same time (0.6 s of CPU for the whole file), looked up by binary search in under a microsecond. The few ids that do not pack
(a number of more than 14 digits, or one with a leading zero beyond four digits) sit in a small
dict beside the arrays, so every id of the documented format ``CVE-YYYY-NNNN…`` round-trips.

Format (the official ``epss_scores-YYYY-MM-DD.csv.gz``, gzip optional here)::

    #model_version:v2025.03.14,score_date:2026-01-30T12:55:00Z
    cve,epss,percentile
    CVE-1999-0001,0.01151,0.78086

The ``#`` line is optional (API-crawl subsets lack it); values may use scientific notation.
Pure: bytes in, table out; the caller reads the file.
"""

from __future__ import annotations

import operator
import re
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import NamedTuple

from processors.errors import ConfigurationError

__all__ = ["EpssFile", "EpssScore", "EpssTable", "parse_epss"]

#: ``year * _YEAR + number`` packs a CVE id into a signed 64-bit integer (year <= 9999).
_YEAR = 10**14
_HEADER = "cve,epss,percentile"


class EpssScore(NamedTuple):
    """One CVE's EPSS probability (0-1) and percentile (0-1)."""

    epss: float
    percentile: float


def _pack(cve: str) -> int | None:
    """The 64-bit key of ``cve``, or None when it is not a CVE id that packs (see module doc)."""
    if len(cve) < 13 or cve[:4] != "CVE-" or cve[8] != "-" or not cve.isascii():
        return None
    year, number = cve[4:8], cve[9:]
    if not (year.isdigit() and number.isdigit()) or len(number) > 14 or (len(number) > 4 and number[0] == "0"):
        return None
    return int(year) * _YEAR + int(number)


def _is_cve_id(cve: str) -> bool:
    """Whether ``cve`` matches CISA's and MITRE's ``^CVE-[0-9]{4}-[0-9]{4,19}$``."""
    return (13 <= len(cve) <= 28 and cve[:4] == "CVE-" and cve[8] == "-" and cve.isascii()
            and cve[4:8].isdigit() and cve[9:].isdigit())


def _unpack(key: int) -> str:
    year, number = divmod(key, _YEAR)
    return f"CVE-{year:04d}-{number:04d}"


class EpssTable(Mapping[str, EpssScore]):
    """Read-only mapping CVE id -> :class:`EpssScore` over sorted arrays; safe to share across threads.

    Build it with :func:`parse_epss` or :meth:`from_scores`. Lookups of ids that are not CVE ids
    (alert content is untrusted) simply miss.
    """

    __slots__ = ("_keys", "_epss", "_percentile", "_odd")

    def __init__(self, keys: array[int], epss: array[float], percentile: array[float],
                 odd: Mapping[str, EpssScore] | None = None) -> None:
        """``keys`` sorted ascending and unique, ``epss`` and ``percentile`` in the same order."""
        if not len(keys) == len(epss) == len(percentile):
            raise ValueError("keys, epss and percentile must have the same length")
        self._keys, self._epss, self._percentile = keys, epss, percentile
        self._odd: dict[str, EpssScore] = dict(odd or {})

    @classmethod
    def from_scores(cls, scores: Mapping[str, EpssScore]) -> EpssTable:
        """A table holding ``scores`` (tests, small hand-made feeds)."""
        packed = sorted((key, score) for cve, score in scores.items() if (key := _pack(cve)) is not None)
        odd = {cve: score for cve, score in scores.items() if _pack(cve) is None}
        return cls(array("q", [k for k, _ in packed]), array("d", [s.epss for _, s in packed]),
                   array("d", [s.percentile for _, s in packed]), odd)

    def __getitem__(self, cve: str) -> EpssScore:
        key = _pack(cve) if isinstance(cve, str) else None
        if key is None:
            return self._odd[cve]
        index = bisect_left(self._keys, key)
        if index == len(self._keys) or self._keys[index] != key:
            raise KeyError(cve)
        return EpssScore(self._epss[index], self._percentile[index])

    def __contains__(self, cve: object) -> bool:
        if not isinstance(cve, str):
            return False
        try:
            self[cve]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        yield from map(_unpack, self._keys)
        yield from self._odd

    def __len__(self) -> int:
        return len(self._keys) + len(self._odd)

    def __repr__(self) -> str:
        return f"EpssTable({len(self)} CVEs)"

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the dict of odd ids aside): the table's memory footprint."""
        return sum(a.itemsize * len(a) for a in (self._keys, self._epss, self._percentile))


class EpssFile(NamedTuple):
    """One parsed EPSS file: its metadata line (empty strings when absent) and its scores."""

    model_version: str
    score_date: str
    scores: EpssTable


def _metadata(line: str) -> dict[str, str]:
    pairs = (pair.partition(":") for pair in line[1:].split(","))
    return {key.strip(): value.strip() for key, _, value in pairs}


def parse_epss(text: str, origin: str) -> EpssFile:
    """Parse the text of an EPSS CSV (see module doc) into an :class:`EpssFile`.

    Raises :class:`ConfigurationError` naming ``origin`` and the line for a wrong header, a row
    that is not ``CVE id,probability,percentile``, a value outside 0-1 (NaN included) or a CVE
    listed twice: a feed that does not parse is refused whole, never half-loaded.
    """
    meta: dict[str, str] = {}
    if text.startswith("#"):
        first, _, text = text.partition("\n")
        meta = _metadata(first.strip())
    header, _, body = text.partition("\n")
    if header.replace(" ", "").strip() != _HEADER:
        raise ConfigurationError(f"{origin}: expected header {_HEADER!r}, got {header[:60]!r}")
    first_row = 3 if meta else 2
    columns = _fast_columns(body) or _checked_columns(body, origin, first_row)
    keys, epss, percentile, odd = columns
    if not (_in_unit_interval(epss) and _in_unit_interval(percentile)):
        _checked_columns(body, origin, first_row)  # names the offending line
    return EpssFile(meta.get("model_version", ""), meta.get("score_date", ""),
                    _sorted_table(keys, epss, percentile, odd, origin))


def _in_unit_interval(values: array[float]) -> bool:
    """Whether every value lies in 0-1 (NaN and infinities fail), checked in C rather than per value."""
    total = sum(values)
    return not values or (0.0 <= min(values) and max(values) <= 1.0 and total == total)


_Columns = tuple["array[int]", "array[float]", "array[float]", dict[str, EpssScore]]
#: A well-formed row whose CVE id packs: ``CVE-YYYY-NNNN…,<epss>,<percentile>``, no other comma.
_ROW = re.compile(r"^CVE-\d{4}-(?:[1-9]\d{4,13}|\d{4}),[^,\n]*,[^,\n]*$", re.M)


def _fast_columns(body: str) -> _Columns | None:
    """The columns of ``body`` when every line is a well-formed row of a packable id, else None.

    One regex pass checks every line (it must leave nothing but the line breaks), then the text is
    split at every comma and line break in C and each column converted with ``map``, which is
    faster than splitting and converting line by line in Python.
    """
    body = body.rstrip("\n")
    rest, matched = _ROW.subn("", body)
    if rest.strip("\n") or matched != body.count("\n") + 1:
        return None  # a blank, odd or malformed line: the careful path takes it (and names it)
    fields = body.replace("\n", ",").split(",")
    try:
        keys = array("q", [int(cve[4:8]) * _YEAR + int(cve[9:]) for cve in fields[0::3]])
        epss = array("d", map(float, fields[1::3]))
        percentile = array("d", map(float, fields[2::3]))
    except ValueError:
        return None
    return keys, epss, percentile, {}


def _checked_columns(body: str, origin: str, first_row: int) -> _Columns:
    """The columns of ``body``, line by line: slower, but takes odd ids and names a bad line."""
    keys, epss, percentile = array("q"), array("d"), array("d")
    odd: dict[str, EpssScore] = {}
    lines = body.split("\n")
    number = first_row
    try:
        for number, row in enumerate(lines, start=first_row):
            if not row.strip():
                continue
            cve, e, p = row.strip().split(",")
            value, pct = float(e), float(p)
            if not (0.0 <= value <= 1.0 and 0.0 <= pct <= 1.0):
                raise ValueError("value outside 0-1")
            key = _pack(cve)
            if key is None:
                if not _is_cve_id(cve) or cve in odd:
                    raise ValueError("not a CVE id" if cve not in odd else "CVE listed twice")
                odd[cve] = EpssScore(value, pct)
                continue
            keys.append(key)
            epss.append(value)
            percentile.append(pct)
    except ValueError as exc:
        bad = lines[number - first_row][:60]
        raise ConfigurationError(f"{origin}:{number}: bad EPSS row {bad!r} ({exc})") from exc
    return keys, epss, percentile, odd


def _sorted_table(keys: array[int], epss: array[float], percentile: array[float], odd: dict[str, EpssScore],
                  origin: str) -> EpssTable:
    """The table with rows in key order (daily files are grouped by year, not sorted); refuses duplicates."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    keys = array("q", map(keys.__getitem__, order))
    epss = array("d", map(epss.__getitem__, order))
    percentile = array("d", map(percentile.__getitem__, order))
    if any(map(operator.eq, keys, islice(keys, 1, None))):
        duplicate = next(a for a, b in zip(keys, islice(keys, 1, None)) if a == b)
        raise ConfigurationError(f"{origin}: {_unpack(duplicate)} is listed twice")
    return EpssTable(keys, epss, percentile, odd)
