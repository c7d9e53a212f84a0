"""Terraform snippets checked with python-hcl2 (do they parse?) and Checkov (does the fix pass?).

Parsing is in-process with python-hcl2, the maintained HCL2 grammar, rather than a hand-written
reader. Checkov runs as a subprocess on a temporary directory holding the one snippet: Checkov pins
exact versions of boto3 and an old ``packaging`` and ``networkx``, which would override the
project's own, so it lives in its own virtual environment (``make install`` builds
``.venv-checkov``; the image ``/opt/checkov``) and is called by path
(:attr:`TerraformCheckerSettings.checkov`, ``PRISMAFLOW_TERRAFORM_CHECKOV``). It runs offline: no guideline download, no platform calls, a minimal environment and a time limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import hcl2
from lark.exceptions import LarkError
from pydantic import BaseModel, ConfigDict, Field

from processors.errors import ExternalServiceError
from processors.remediation.ports import TerraformBlock, TerraformFinding

__all__ = ["CheckovError", "HclTerraformChecker", "Runner", "TerraformCheckerSettings"]

Runner = Callable[[Sequence[str], Mapping[str, str], float], "subprocess.CompletedProcess[str]"]
"""Runs a command (argv, environment, time limit in seconds) and returns its completed process."""


class CheckovError(ExternalServiceError):
    """Checkov could not be run, or gave no result that can be read."""


class TerraformCheckerSettings(BaseModel):
    """Where Checkov is and how long it may take: the ``terraform`` section (``PRISMAFLOW_TERRAFORM_*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkov: str = Field(
        default="checkov", min_length=1,
        description="The Checkov program: an absolute path (the image's /opt/checkov/bin/checkov; `make install` "
                    "builds .venv-checkov/bin/checkov) or a name on PATH; without it Terraform fixes fail closed")
    timeout_s: float = Field(default=180.0, gt=0, description="Seconds one Checkov run may take")


def _run(argv: Sequence[str], env: Mapping[str, str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=dict(env), timeout=timeout_s, capture_output=True, text=True, check=False)


def _unquote(value: Any) -> Any:
    # python-hcl2 (v7+) keeps the quotes of string literals and block labels.
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


class HclTerraformChecker:
    """The :class:`~processors.remediation.ports.TerraformChecker` over python-hcl2 and Checkov."""

    def __init__(self, settings: TerraformCheckerSettings | None = None, run: Runner | None = None) -> None:
        self._settings = settings or TerraformCheckerSettings()
        self._run = run or _run

    def parse_errors(self, snippet: str) -> tuple[str, ...]:
        try:
            hcl2.loads(snippet)
        except (LarkError, ValueError, TypeError) as exc:
            return (str(exc).splitlines()[0][:200],)
        return ()

    def blocks(self, snippet: str) -> tuple[TerraformBlock, ...]:
        document = hcl2.loads(snippet)
        found = []
        for kind in ("resource", "data"):
            for entry in document.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        attributes = {k: _unquote(v) for k, v in body.items() if not k.startswith("__")}
                        found.append(TerraformBlock(kind, _unquote(rtype), _unquote(name), attributes))
        return tuple(found)

    def failed_checks(self, snippet: str, check_ids: Sequence[str]) -> tuple[TerraformFinding, ...]:
        if not check_ids:
            return ()
        with tempfile.TemporaryDirectory(prefix="prismaflow-tf-") as folder:
            Path(folder, "main.tf").write_text(snippet, encoding="utf-8")
            argv = [self._settings.checkov, "-d", folder, "--framework", "terraform",
                    "--check", ",".join(check_ids), "-o", "json", "--quiet", "--skip-download"]
            # A minimal environment: no cloud credentials or API keys reach Checkov, and it stays offline.
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": folder, "BC_SKIP_MAPPING": "TRUE",
                   "CHECKOV_SKIP_DOWNLOAD": "TRUE", "PYTHONDONTWRITEBYTECODE": "1"}
            try:
                completed = self._run(argv, env, self._settings.timeout_s)
            except (OSError, subprocess.SubprocessError) as exc:
                raise CheckovError(f"checkov could not run: {type(exc).__name__}: {exc}"[:300]) from exc
        if completed.returncode not in (0, 1):
            raise CheckovError(f"checkov exited {completed.returncode}: {completed.stderr.strip()[-300:]}")
        return _failures(completed.stdout)


def _failures(output: str) -> tuple[TerraformFinding, ...]:
    try:
        report = json.loads(output)
    except ValueError as exc:
        raise CheckovError(f"checkov output is not JSON: {output[:120]!r}") from exc
    reports = report if isinstance(report, list) else [report]
    findings = []
    for entry in reports:
        if not isinstance(entry, dict):
            raise CheckovError("checkov output has an unexpected shape")
        for failed in entry.get("results", {}).get("failed_checks", []):
            findings.append(TerraformFinding(str(failed.get("check_id", "")), str(failed.get("check_name", "")),
                                             str(failed.get("resource", ""))))
    return tuple(findings)
