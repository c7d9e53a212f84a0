"""The folder the workers read their feeds from (``PRISMAFLOW_WORKER_FEEDS_DIR``), written atomically.

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
from pathlib import Path

from processors.enrich.feeds import (
    EPSS_PATTERN,
    KEV_PATTERN,
    EpssFile,
    KevCatalogue,
    epss_file_name,
    kev_file_name,
)
from processors.errors import ConfigurationError

__all__ = ["FeedStore"]

KEEP_PER_FEED = 2


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
