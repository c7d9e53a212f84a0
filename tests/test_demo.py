"""`make demo` (the README's first command) runs the pipeline end to end and exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_the_demo_runs_the_pipeline_and_narrates_an_alerts_journey(kafka_bootstrap: str, repo_root: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    result = subprocess.run([sys.executable, "-m", "streams.cli", "demo"], cwd=repo_root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for expected in ("poll", "webhook", "normalise", "score", "Top risks", "Correlated incident",
                     "One alert's journey", "prisma.alerts.raw[", "prisma.alerts.scored", "prisma.analyses",
                     "prisma.tickets", "Downstream:", "signing audit records with key", "signed records", "verified"):
        assert expected in out, f"demo output lacks {expected!r}"
    summary = json.loads(next(line for line in out.splitlines() if line.startswith('{"summary"')))["summary"]
    assert summary["raw"] > 0 and summary["scored"] > 0 and summary["incidents"] > 0
    assert summary["dead_letters"] >= 1  # the malformed webhook record was dead-lettered, not dropped
    assert summary["analyses"] > 0 and summary["audit_records"] > 0
    assert summary["jira_issues"] == summary["servicenow_incidents"] > 0
    assert summary["jira_issues_with_analysis"] > 0, "tickets are created with their analysis in the body"
