"""CIEM: a role's policies reduced to what it used, checked by our rules, parliament, python-hcl2 and Checkov."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.aws.iam_lint import ParliamentLinter
from connectors.aws.service_models import BotocoreServiceCatalog
from processors.models import Cloud
from processors.remediation.families import FamilyCatalog
from processors.remediation.least_privilege import PermissionRecord, least_privilege_reasons, reduce_to_used
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan
from processors.remediation.validate import validate_plan
from tests.processors.remediation.conftest import MemoisingChecker

# Constructed from Prisma's documented PermissionDto: see tests/data/ciem/README.md.
RECORDS = Path(__file__).resolve().parents[2] / "data" / "ciem" / "permissions_reporting_lambda.json"
ROLE = "arn:aws:iam::123456789012:role/reporting-lambda"
AS_OF = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def records() -> list[PermissionRecord]:
    items = json.loads(RECORDS.read_text(encoding="utf-8"))["data"]["items"]
    return [PermissionRecord.model_validate(item) for item in items]


def test_only_actions_used_in_the_window_remain_each_on_the_resources_it_was_used_on(
        records: list[PermissionRecord]) -> None:
    reduced = reduce_to_used(records, ROLE, as_of=AS_OF)
    assert reduced.kept_actions == ("dynamodb:Query", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket")
    # Never used (iam:CreateUser, iam:PassRole, ec2:RunInstances) or last used in April (s3:DeleteBucket).
    assert reduced.dropped_actions == ("ec2:RunInstances", "iam:CreateUser", "iam:PassRole", "s3:DeleteBucket")
    resources = {s["Action"][0]: s["Resource"] for s in reduced.document["Statement"]}
    assert resources == {
        "dynamodb:Query": "arn:aws:dynamodb:eu-west-1:123456789012:table/reports",
        "logs:PutLogEvents": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/reporting:*",
        "s3:GetObject": "arn:aws:s3:::reports-bucket/*",  # object actions on the bucket's objects
        "s3:ListBucket": "arn:aws:s3:::reports-bucket",
    }
    assert "s3:PutObject" not in json.dumps(reduced.document)  # another role's use does not leak in
    assert reduced.replaced_policies == ("arn:aws:iam::123456789012:policy/reporting-logs",
                                         "arn:aws:iam::aws:policy/AdministratorAccess")


def test_the_reduction_uses_record_time_so_a_replay_gives_the_same_policy(records: list[PermissionRecord]) -> None:
    assert reduce_to_used(records, ROLE, as_of=AS_OF) == reduce_to_used(list(reversed(records)), ROLE, as_of=AS_OF)
    later = reduce_to_used(records, ROLE, as_of=datetime(2027, 2, 28, tzinfo=UTC))
    assert later.kept_actions == ("logs:PutLogEvents",)  # the others fell out of the 90-day window


def test_a_role_that_used_nothing_is_not_reduced(records: list[PermissionRecord]) -> None:
    with pytest.raises(ValueError, match="used none of its permissions"):
        reduce_to_used(records, "arn:aws:iam::123456789012:role/idle", as_of=AS_OF)


def test_the_reduced_policy_is_clean_for_our_rules_and_for_parliament(
        records: list[PermissionRecord], linter: ParliamentLinter) -> None:
    assert least_privilege_reasons(reduce_to_used(records, ROLE, as_of=AS_OF).document, linter) == ()


@pytest.mark.parametrize(("statement", "reason"), [
    ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "allows every action (*)"),
    ({"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b"}, "allows every action (s3:*)"),
    ({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}, "uses NotAction/NotResource"),
    ({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"}, "allows iam:PassRole on every role"),
    ({"Effect": "Allow", "Action": ["s3:GetObjekt"], "Resource": "arn:aws:s3:::b/*"}, "linter: UNKNOWN_ACTION"),
    ({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b"}, "linter: RESOURCE_MISMATCH"),
])
def test_policies_that_are_not_least_privilege_are_refused(linter: ParliamentLinter, statement: dict[str, object],
                                                           reason: str) -> None:
    reasons = least_privilege_reasons({"Version": "2012-10-17", "Statement": [statement]}, linter)
    assert any(reason in r for r in reasons), reasons


def test_the_reduced_policy_as_terraform_passes_the_iam_familys_checkov_checks(
        records: list[PermissionRecord], families: FamilyCatalog, catalog: BotocoreServiceCatalog,
        terraform: MemoisingChecker) -> None:
    reduced = reduce_to_used(records, ROLE, as_of=AS_OF)
    action = PlannedAction(kind=ActionKind.TERRAFORM, target_resource=ROLE, terraform=reduced.terraform())
    plan = RemediationPlan(plan_id="plan-ciem", alert_id="I-1", asset_id="aws:role", policy_family="iam_policy_attachment",
                           cloud=Cloud.AWS, account_id="123456789012", resource_id=ROLE, actions=(action,))
    verdict = validate_plan(plan, families, catalog, terraform)
    assert verdict.accepted, verdict.reasons
    # The policy the role had (AdministratorAccess) fails the same checks.
    admin = reduced.model_copy(update={"document": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}})
    wide = plan.model_copy(update={"actions": (action.model_copy(update={"terraform": admin.terraform()}),)})
    assert any("fails Checkov CKV_AWS_" in r for r in validate_plan(wide, families, catalog, terraform).reasons)
