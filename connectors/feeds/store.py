"""The folder the workers read their feeds from (``PRISMAFLOW_WORKER_FEEDS_DIR``): written
atomically by ``prismaflow feeds refresh``, read once at worker start-up.

Reading: :func:`newest_snapshot` picks, feed by feed, the newest ``kev-*.json`` and
``epss-*.csv.gz`` of the folders it is given (the feeds folder, then the snapshot shipped in
``processors/enrich/data``, :data:`SHIPPED_FEEDS_DIR`); :func:`load_feeds` reads the two files and
hands their bytes to the pure parsers of :mod:`processors.enrich.feeds`. A file that is missing or
unreadable raises :class:`ConfigurationError` naming it.

Writing:
A feed file appears under its final name only once it is complete and on disk: it is written to a
hidden temporary file in the same folder, flushed, fsynced and renamed over the target, so a worker
that starts during a refresh reads the old file or the new one, never half of one. The two newest
files of each feed are kept (the one just written and its predecessor, which a worker that is
starting at that moment may be opening); older ones are removed.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from processors.enrich.feeds import (
    EPSS_PATTERN,
    KEV_PATTERN,
    EpssFile,
    ExploitFeeds,
    KevCatalogue,
    epss_file_name,
    feeds_from_bytes,
    kev_file_name,
)
from processors.errors import ConfigurationError

__all__ = [
    "SHIPPED_FEEDS_DIR",
    "FeedStore",
    "SnapshotFiles",
    "load_default_feeds",
    "load_feeds",
    "newest_snapshot",
    "read_feed_file",
]

KEEP_PER_FEED = 2

#: The snapshot shipped with the code: complete KEV and EPSS files (README beside them).
SHIPPED_FEEDS_DIR = Path(str(resources.files("processors.enrich.data")))


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
    folders = directories or (SHIPPED_FEEDS_DIR,)
    return SnapshotFiles(_newest(folders, KEV_PATTERN), _newest(folders, EPSS_PATTERN))


def read_feed_file(path: Path) -> bytes:
    """The bytes of one feed file; :class:`ConfigurationError` naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"feed file {path} cannot be read: {exc}") from exc


@lru_cache(maxsize=4)
def _load_cached(kev_path: Path, kev_stamp: tuple[int, int], epss_path: Path,
                 epss_stamp: tuple[int, int]) -> ExploitFeeds:
    return feeds_from_bytes(read_feed_file(kev_path), read_feed_file(epss_path),
                            kev_origin=str(kev_path), epss_origin=str(epss_path))


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


def load_default_feeds(directory: Path = SHIPPED_FEEDS_DIR) -> ExploitFeeds:
    """Load the newest KEV and EPSS files of ``directory`` (by default the shipped snapshot).

    Called once at worker start-up; the result is shared by every record.
    """
    files = newest_snapshot(directory)
    return load_feeds(files.kev, files.epss)


class FeedStore:
    """Writes verified feed files into ``directory`` under the names the workers look for."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write_kev(self, catalogue: KevCatalogue, data: bytes) -> Path:
        """Store a verified KEV catalogue exactly as it was served."""
        return self._write(kev_file_name(catalogue.catalog_version), data, KEV_PATTERN)

    def write_epss(self, epss: EpssFile, data: bytes) -> Path:
        """Store a verified EPSS file, gzip-compressed (as served when it came compressed)."""
        packed = data if data[:2] == b"\x1f\x8b" else gzip.compress(data, compresslevel=9, mtime=0)
        return self._write(epss_file_name(epss.score_date), packed, EPSS_PATTERN)

    def _write(self, name: str, data: bytes, pattern: str) -> Path:
        """Write ``name`` atomically; :class:`ConfigurationError` when the folder is not writable."""
        target = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".partial-", dir=self.directory)
        except OSError as exc:
            raise ConfigurationError(f"cannot write the feeds folder {self.directory}: {exc}") from exc
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise ConfigurationError(f"cannot write {target}: {exc}") from exc
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._sync_directory()
        for old in sorted(self.directory.glob(pattern))[:-KEEP_PER_FEED]:
            if old != target:
                old.unlink(missing_ok=True)
        return target

    def _sync_directory(self) -> None:
        # The rename is durable only once the folder itself is synced (POSIX); not possible everywhere.
        try:
            descriptor = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(descriptor)
        except OSError:
            pass
        finally:
            os.close(descriptor)
