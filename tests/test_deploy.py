"""The deployment files agree with the code: alert rules and dashboard query metrics that exist,
Kubernetes manifests run commands the CLI has, and stream stages keep stable instance ids."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import yaml

from streams.cli import build_parser

_METRIC = re.compile(r"\bprismaflow_[a-z0-9_]+")
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
_SECRET_SUFFIXES = ("_TOKEN", "_PASSWORD", "_SECRET_KEY", "_API_KEY", "_WEBHOOK_URL")


def _known_metric_families() -> set[str]:
    from prometheus_client import REGISTRY

    for module in ("streams.metrics", "streams.sink", "streams.tickets", "streams.audit", "streams.ticket_sync",
                   "connectors.prisma.source", "connectors.prisma.webhook", "streams.siem", "streams.chat"):
        importlib.import_module(module)
    from streams.analysis.metrics import AnalysisMetrics

    AnalysisMetrics.default()
    return {family.name for family in REGISTRY.collect()}


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_alert_rules_and_dashboard_use_only_metrics_the_code_exports(repo_root: Path) -> None:
    known = _known_metric_families()
    rules = yaml.safe_load((repo_root / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((repo_root / "deploy/grafana/prismaflow-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {_family(name) for expr in exprs for name in _METRIC.findall(expr)}
    assert used, "no metric referenced"
    assert used <= known, f"unknown metrics: {sorted(used - known)}"


def test_kubernetes_manifests_run_real_commands_with_stable_identities(repo_root: Path) -> None:
    docs = [d for d in yaml.safe_load_all((repo_root / "deploy/k8s/prismaflow.yaml").read_text()) if d]
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert workloads
    for doc in workloads:
        containers = doc["spec"]["template"]["spec"]["containers"]
        for container in containers:
            assert container["args"][0] in commands, container["args"]
            env = {e["name"]: e for e in container.get("env", [])}
            assert env["PRISMAFLOW_WORKER_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            for name, item in env.items():
                assert not name.endswith(_SECRET_SUFFIXES) or "value" not in item, f"secret {name} given inline"
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert not [key for key in config["data"] if key.endswith(_SECRET_SUFFIXES)], "secrets belong in the Secret"
    stages = {d["metadata"]["name"]: d["kind"] for d in docs}
    assert stages["prismaflow-core"] == "StatefulSet"  # the fused, stateful stream core
