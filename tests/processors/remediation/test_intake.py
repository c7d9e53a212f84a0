"""The remediation-request stage's logic: a high-risk alert becomes a validated request (assist/auto),
a shadow record (monitor) or nothing, and every step is an audit entry linked to the alert id."""

from __future__ import annotations

import yaml

from connectors.aws.service_models import BotocoreServiceCatalog
from processors.models import RiskTier
from processors.records import RolloutMode
from processors.remediation.approval import ApprovalRules, open_request
from processors.remediation.families import FamilyCatalog
from processors.remediation.intake import intake
from processors.remediation.modes import parse_policy
from processors.remediation.propose import ValidationPorts
from tests.processors.remediation.conftest import MemoisingChecker, family_alert

ASSIST = parse_policy(yaml.safe_load("default: assist"))
MONITOR = parse_policy(yaml.safe_load("default: monitor"))
RULES = ApprovalRules()


def test_a_public_bucket_in_assist_mode_becomes_a_request_for_two_approvers(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    scored = family_alert("s3_public_access")
    step = intake(scored, families=families, ports=ValidationPorts(catalog, terraform), policy=ASSIST, rules=RULES)
    assert step.request is not None and step.announce
    request = step.request
    assert request.mode is RolloutMode.ASSIST and request.required_approvals == 2  # production
    assert request.alert_id == scored.alert.alert_id and request.target_resource == "payroll-exports"
    assert request.requested_at == scored.scored_at
    assert [e.action for e in step.audit] == ["remediation_planned", "remediation_mode", "remediation_request_created"]
    assert {e.alert_id for e in step.audit} == {scored.alert.alert_id}
    assert step.audit[-1].details["request_id"] == request.request_id


def test_monitor_mode_records_a_shadow_request_that_nobody_is_asked_about_and_never_runs(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    step = intake(family_alert("s3_public_access"), families=families, ports=ValidationPorts(catalog, terraform),
                  policy=MONITOR, rules=RULES)
    assert step.request is not None and step.request.mode is RolloutMode.MONITOR
    assert not step.announce
    assert step.audit[1].details["would_have"] == {"mode": "assist", "action": "request_approval",
                                                   "required_approvals": 2}
    assert step.audit[-1].action == "remediation_shadow_recorded"
    assert open_request(step.request).outcome is not None  # the approval service rejects it at once
    assert open_request(step.request).outcome.decision.value == "rejected"  # type: ignore[union-attr]


def test_a_refused_plan_is_audited_with_its_reasons_and_never_requested(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    # An injection-bearing bucket name: the planner builds the plan from it, validation refuses it.
    scored = family_alert("s3_public_access", resource_id="payroll; aws iam create-user --user-name x",
                          config={"bucketName": "payroll; aws iam create-user --user-name x"})
    step = intake(scored, families=families, ports=ValidationPorts(catalog, terraform), policy=ASSIST, rules=RULES)
    assert step.request is None and not step.announce
    assert [e.action for e in step.audit] == ["remediation_planned", "remediation_plan_refused"]
    refused = step.audit[-1]
    assert refused.outcome == "refused" and refused.alert_id == scored.alert.alert_id
    assert any("shell syntax" in reason for reason in refused.details["reasons"])


def test_low_risk_alerts_are_not_for_the_remediation_path(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    scored = family_alert("s3_public_access").model_copy(update={"tier": RiskTier.MEDIUM})
    step = intake(scored, families=families, ports=ValidationPorts(catalog, terraform), policy=ASSIST, rules=RULES)
    assert step.request is None and step.audit == ()
