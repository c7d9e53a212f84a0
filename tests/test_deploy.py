"""The deployment files agree with the code: alert rules and dashboard query metrics that exist.

The Helm chart that replaced deploy/k8s (commands, stable instance ids, secrets) is tested in
tests/deploy/test_helm_chart.py, the rules and the dashboard in detail under tests/deploy/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from streams.config import load_settings

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


def test_the_image_has_checkov_at_the_makefiles_version_and_the_remediation_stage_is_told_where(
        repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without Checkov every Terraform fix fails closed, so the image carries it in its own venv.
    dockerfile = (repo_root / "deploy/Dockerfile").read_text()
    makefile = (repo_root / "Makefile").read_text()
    pinned = re.search(r"^CHECKOV_VERSION\s*:=\s*(\S+)$", makefile, re.M)
    in_image = re.search(r"^ARG CHECKOV_VERSION=(\S+)$", dockerfile, re.M)
    assert pinned and in_image and pinned.group(1) == in_image.group(1)
    assert '/opt/checkov/bin/pip install --no-cache-dir "checkov==${CHECKOV_VERSION}"' in dockerfile
    env = re.search(r"^ENV (PRISMAFLOW_TERRAFORM_CHECKOV)=(\S+)$", dockerfile, re.M)
    assert env is not None and env.group(2) == "/opt/checkov/bin/checkov"
    monkeypatch.setenv(env.group(1), env.group(2))  # a setting the tree knows, read by `run remediate`
    assert load_settings().terraform.checkov == "/opt/checkov/bin/checkov"
