"""The packages type-check under mypy --strict (the configuration in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_mypy_strict_finds_no_errors(repo_root: Path, tmp_path: Path) -> None:
    from mypy import api

    stdout, stderr, status = api.run(["--config-file", str(repo_root / "pyproject.toml"), "--cache-dir",
                                      str(tmp_path / "mypy-cache")])
    assert status == 0, stdout[-4000:] + stderr[-2000:]
