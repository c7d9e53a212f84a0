"""The deployment files agree with the code: alert rules and dashboard query metrics that exist.

The Helm chart that replaced deploy/k8s (commands, stable instance ids, secrets) is tested in
tests/deploy/test_helm_chart.py, the rules and the dashboard in detail under tests/deploy/."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.deploy.known_metrics import METRIC, family, known_metric_families


def test_alert_rules_and_dashboard_use_only_metrics_the_code_exports(repo_root: Path) -> None:
    known = known_metric_families()
    rules = yaml.safe_load((repo_root / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((repo_root / "deploy/grafana/prismaflow-dashboard.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {family(name) for expr in exprs for name in METRIC.findall(expr)}
    assert used, "no metric referenced"
    assert used <= known, f"unknown metrics: {sorted(used - known)}"
