"""``prismaflow --version`` prints the installed package's version and exits 0."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version


def test_version_prints_the_package_version_and_exits_zero() -> None:
    result = subprocess.run([sys.executable, "-m", "streams.cli", "--version"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"prismaflow {version('prismaflow')}"
