"""Running ``prismaflow`` as an operator does, in a child process, with its wall time and output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class CliRun:
    """What one ``prismaflow`` command did: exit code, output and how long it took."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(*words: str, env: dict[str, str], timeout_s: float = 120.0, home: Path | None = None) -> CliRun:
    """``python -m streams.cli WORDS`` with ``env`` over the current environment."""
    full_env = {**os.environ, **env}
    if home is not None:
        full_env["PRISMAFLOW_HOME"] = str(home)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "streams.cli", *words], cwd=REPO, env=full_env,
                            capture_output=True, text=True, timeout=timeout_s, check=False)
    return CliRun(result.returncode, result.stdout, result.stderr, time.monotonic() - started)
