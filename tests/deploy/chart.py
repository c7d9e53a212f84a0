"""Rendering the Helm chart with the repository's own helm, and the tools that check it.

helm, kube-score and docker-compose are built from the Go module proxy into .prismaflow/tools/bin
by scripts/deploy-tools.sh, which `make test` runs before pytest. A missing tool fails the test
that needs it (never a skip): CI must check the chart.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "prismaflow"
TOOLS_BIN = Path(os.environ.get("PRISMAFLOW_TOOLS_BIN", REPO / ".prismaflow" / "tools" / "bin"))


def tool(name: str) -> str:
    """The path of a built checker; fails naming the script that builds it."""
    path = TOOLS_BIN / name
    assert path.is_file() and os.access(path, os.X_OK), (
        f"{path} is missing: run scripts/deploy-tools.sh (make test runs it)")
    return str(path)


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([tool("helm"), *args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HELM_CACHE_HOME": str(REPO / ".prismaflow" / "helm" / "cache"),
                                 "HELM_CONFIG_HOME": str(REPO / ".prismaflow" / "helm" / "config"),
                                 "HELM_DATA_HOME": str(REPO / ".prismaflow" / "helm" / "data")})
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def render(*sets: str, release: str = "pf") -> tuple[str, list[dict[str, Any]]]:
    """``helm template`` of the chart with ``--set`` values: the YAML text and its documents."""
    args = ["template", release, str(CHART), "--namespace", "prismaflow"]
    for value in sets:
        args += ["--set", value]
    text = helm(*args).stdout
    return text, [doc for doc in yaml.safe_load_all(text) if doc]


#: Every optional part switched on: all sinks and syncs, KEDA, the PodMonitor, a Schema Registry (its Job).
EVERYTHING = ("existingSecret=prismaflow-secrets", "keda.enabled=true", "podMonitor.enabled=true",
              "sinks.servicenow.enabled=true", "sinks.splunk.enabled=true", "sinks.syslog.enabled=true",
              "sinks.chat.enabled=true", "sync.jira.enabled=true", "sync.servicenow.enabled=true",
              "config.SCHEMA_REGISTRY_URL=https://registry.example:8081")


#: kube-score's optional checks the chart is held to as well (Pod Security and request = limit).
_OPTIONAL_CHECKS = ("container-seccomp-profile", "container-ports-check", "container-resource-requests-equal-limits",
                    "container-cpu-requests-equal-limits", "container-memory-requests-equal-limits",
                    "container-ephemeral-storage-request-equals-limit")


def kube_score(text: str, workdir: Path) -> tuple[set[str], list[tuple[str, str]]]:
    """kube-score of rendered manifests: the names of the objects it scored, and its CRITICAL findings
    (object, check id) that values.yaml does not explain on a ``# kube-score: <check id>: <reason>`` line."""
    manifest = workdir / "rendered.yaml"
    manifest.write_text(text)
    args = [tool("kube-score"), "score", str(manifest), "--output-format", "json", "--kubernetes-version", "v1.30"]
    for check in _OPTIONAL_CHECKS:
        args += ["--enable-optional-test", check]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("["), result.stderr
    report = json.loads(result.stdout)
    critical = {(o["object_name"], c["check"]["id"]) for o in report for c in o["checks"]
                if not c["skipped"] and c["grade"] == 1}
    explained = set(re.findall(r"^# kube-score: ([a-z0-9-]+): \S", (CHART / "values.yaml").read_text(), re.M))
    scored = {o["object_name"].rsplit("/", 1)[-1] for o in report}
    return scored, sorted(c for c in critical if c[1] not in explained)
