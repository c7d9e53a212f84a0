"""Rollout modes: the most specific rule wins, and each mode lets exactly its share happen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from processors.errors import ConfigurationError
from processors.models import Cloud, Environment, ScoredAlert
from processors.records import RolloutMode
from processors.remediation.modes import (
    ModeAction,
    RolloutPolicy,
    decide_mode,
    looser,
    mode_for,
    parse_policy,
    policy_change,
    stricter,
)
from processors.remediation.plan import ActionKind, ChangeRisk, PlannedAction, RemediationPlan
from tests.factories import make_alert, make_enrichment, make_resource_ref, make_scored_alert

SHIPPED = Path(__file__).resolve().parents[3] / "processors" / "remediation" / "rollout.yaml"

POLICY = parse_policy(yaml.safe_load("""
default: monitor
rules:
  - environment: dev
    mode: auto
  - account_group: Payments
    mode: assist
  - account_group: Payments
    environment: dev
    mode: assist
  - account: "123456789012"
    mode: monitor
  - account: "210987654321"
    mode: auto
  - account: "210987654321"
    mode: assist
auto_allowlist: [s3_public_access]
"""))


def _scored(account: str = "999999999999", groups: tuple[str, ...] = (),
            environment: Environment = Environment.DEV) -> ScoredAlert:
    alert = make_alert(resource=make_resource_ref(account_id=account, account_groups=list(groups)),
                       enrichment=make_enrichment(environment=environment))
    return make_scored_alert(alert=alert)


def _plan(environment: Environment = Environment.DEV, **overrides: Any) -> RemediationPlan:
    fields: dict[str, Any] = {
        "plan_id": "plan-s3", "alert_id": "P-1", "asset_id": "aws:999999999999:us-east-1:s3:bucket/logs",
        "policy_family": "s3_public_access", "cloud": Cloud.AWS, "resource_id": "logs", "environment": environment,
        "change_risk": ChangeRisk.LOW,
        "actions": (PlannedAction(kind=ActionKind.AWS_API, target_resource="logs", service="s3",
                                  operation="PutPublicAccessBlock", parameters={"Bucket": "logs"}),),
    }
    fields.update(overrides)
    return RemediationPlan.model_validate(fields)


def test_without_a_matching_rule_the_default_applies_and_the_default_default_is_monitor() -> None:
    assert mode_for(_scored(environment=Environment.PROD).alert, POLICY) is RolloutMode.MONITOR
    assert RolloutPolicy().default is RolloutMode.MONITOR
    assert parse_policy(None).default is RolloutMode.MONITOR


def test_the_most_specific_rule_wins_account_over_group_over_environment() -> None:
    assert mode_for(_scored().alert, POLICY) is RolloutMode.AUTO  # environment only
    assert mode_for(_scored(groups=("Payments",)).alert, POLICY) is RolloutMode.ASSIST  # group + environment
    assert mode_for(_scored(account="123456789012", groups=("Payments",)).alert, POLICY) is RolloutMode.MONITOR


def test_a_tie_between_equally_specific_rules_goes_to_the_stricter_mode() -> None:
    assert mode_for(_scored(account="210987654321").alert, POLICY) is RolloutMode.ASSIST


def test_monitor_mode_opens_no_ticket_and_runs_nothing() -> None:
    outcome = decide_mode(_scored(account="123456789012"), _plan(), POLICY)
    assert (outcome.mode, outcome.tickets, outcome.action) == (RolloutMode.MONITOR, False, ModeAction.NONE)


def test_assist_mode_opens_a_ticket_and_asks_for_approval_of_every_fix() -> None:
    outcome = decide_mode(_scored(groups=("Payments",)), _plan(), POLICY)
    assert (outcome.tickets, outcome.action, outcome.required_approvals) == (True, ModeAction.REQUEST_APPROVAL, 1)
    no_plan = decide_mode(_scored(groups=("Payments",)), None, POLICY)
    assert (no_plan.tickets, no_plan.action) == (True, ModeAction.NONE)


def test_auto_mode_runs_only_allowlisted_low_risk_fixes_outside_production() -> None:
    assert decide_mode(_scored(), _plan(), POLICY).action is ModeAction.AUTO_RUN
    for plan in (_plan(change_risk=ChangeRisk.MEDIUM), _plan(policy_family="security_group_ingress"),
                 _plan(touches_iam=True), _plan(environment=Environment.PROD), _plan(environment=Environment.UNKNOWN)):
        outcome = decide_mode(_scored(), plan, POLICY, mode=RolloutMode.AUTO)
        assert outcome.action is ModeAction.REQUEST_APPROVAL, plan
        assert outcome.required_approvals >= 1


def test_stricter_and_looser_modes() -> None:
    assert (stricter(RolloutMode.ASSIST), looser(RolloutMode.ASSIST)) == (RolloutMode.MONITOR, RolloutMode.AUTO)
    assert stricter(RolloutMode.MONITOR) is None and looser(RolloutMode.AUTO) is None


def test_a_changed_policy_is_a_change_with_old_and_new_an_equal_one_is_not() -> None:
    reordered = parse_policy({"default": "monitor", "rules": [r.model_dump(mode="json") for r in POLICY.rules],
                              "auto_allowlist": ["s3_public_access"]})
    assert policy_change(POLICY, reordered) is None
    looser_default = POLICY.model_copy(update={"default": RolloutMode.ASSIST})
    change = policy_change(POLICY, looser_default)
    assert change is not None and change.old_digest == POLICY.digest() and change.new_digest != POLICY.digest()
    assert change.details["default_changed"] is True
    assert (change.details["old"]["default"], change.details["new"]["default"]) == ("monitor", "assist")
    first = policy_change(None, POLICY)
    assert first is not None and first.old_digest is None


def test_an_invalid_policy_is_refused_with_the_place_named() -> None:
    with pytest.raises(ConfigurationError, match="rules.0.mode"):
        parse_policy({"rules": [{"environment": "dev", "mode": "yolo"}]})
    with pytest.raises(ConfigurationError, match="unknown"):
        parse_policy({"rules": [], "unknown": 1})


def test_the_shipped_policy_parses_and_keeps_production_out_of_auto() -> None:
    shipped = parse_policy(yaml.safe_load(SHIPPED.read_text()), str(SHIPPED))
    assert mode_for(_scored(environment=Environment.PROD).alert, shipped) is RolloutMode.ASSIST
    assert decide_mode(_scored(environment=Environment.PROD), _plan(Environment.PROD), shipped).action \
        is ModeAction.REQUEST_APPROVAL
