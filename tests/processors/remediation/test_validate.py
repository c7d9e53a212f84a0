"""Fix validation: every rule, against botocore's real models, the real families file, python-hcl2 and Checkov."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.aws.service_models import BotocoreServiceCatalog
from processors.models import Cloud
from processors.normalise import normalise
from processors.remediation.families import FamilyCatalog
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan
from processors.remediation.planner import plan_for_alert
from processors.remediation.validate import PlanVerdict, validate_plan
from tests.factories import make_scored_alert
from tests.processors.real_corpus import raw_alerts, sample
from tests.processors.remediation.conftest import ACCOUNT, FAMILY_ALERTS, MemoisingChecker, family_alert

BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _plan(*actions: PlannedAction, family: str = "s3_public_access", resource_id: str = "payroll",
          cloud: Cloud = Cloud.AWS, region: str = "eu-west-1", account_id: str = ACCOUNT) -> RemediationPlan:
    return RemediationPlan(plan_id="plan-test", alert_id="P-1", asset_id="aws:x", policy_family=family, cloud=cloud,
                           account_id=account_id, region=region, resource_id=resource_id, actions=actions)


def _aws(service: str, operation: str, parameters: dict[str, Any], *, target: str = "payroll",
         region: str = "eu-west-1") -> PlannedAction:
    return PlannedAction(kind=ActionKind.AWS_API, target_resource=target, region=region, service=service,
                         operation=operation, parameters=parameters)


def _block(bucket: str = "payroll", **overrides: Any) -> PlannedAction:
    return _aws("s3", "PutPublicAccessBlock", {"Bucket": bucket, "PublicAccessBlockConfiguration": BLOCK_ALL},
                **overrides)


def _verdict(plan: RemediationPlan, families: FamilyCatalog, catalog: BotocoreServiceCatalog,
             terraform: MemoisingChecker | None = None) -> PlanVerdict:
    return validate_plan(plan, families, catalog, terraform)


def _only_reason(verdict: PlanVerdict, expected: str) -> None:
    assert not verdict.accepted
    assert any(expected in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize("family", sorted(FAMILY_ALERTS))
def test_every_familys_planned_fix_is_accepted_checkov_included(
        family: str, families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    outcome = plan_for_alert(family_alert(family), families)
    assert outcome.plan is not None, outcome.reason
    verdict = validate_plan(outcome.plan, families, catalog, terraform)
    assert verdict.accepted, verdict.reasons
    assert verdict.plan_digest == outcome.plan.digest()


def test_an_allowlisted_operation_on_the_alerts_own_resource_is_accepted(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    verdict = _verdict(_plan(_block()), families, catalog)
    assert verdict.accepted and verdict.reasons == ()


def test_an_operation_botocore_does_not_know_is_refused(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    _only_reason(_verdict(_plan(_aws("s3", "MakeBucketPrivate", {"Bucket": "payroll"})), families, catalog),
                 "'s3' has no operation 'MakeBucketPrivate' in botocore's models")


def test_parameters_botocore_rejects_are_refused_with_its_message(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    action = _aws("s3", "PutPublicAccessBlock", {"Bucket": "payroll", "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": "yes"}, "Acl": "public-read"})
    verdict = _verdict(_plan(action), families, catalog)
    _only_reason(verdict, "Invalid type for parameter PublicAccessBlockConfiguration.BlockPublicAcls")
    _only_reason(verdict, 'Unknown parameter in input: "Acl"')


def test_a_valid_operation_outside_the_familys_allowlist_is_refused(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    attach = _aws("iam", "AttachRolePolicy", {"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
                  target="app", region="")
    verdict = _verdict(_plan(attach, family="iam_policy_attachment", resource_id="app"), families, catalog)
    assert verdict.reasons == ("action 1 iam AttachRolePolicy: iam AttachRolePolicy is not on the "
                               "iam_policy_attachment allowlist",)


def test_an_action_on_another_resource_is_refused(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    _only_reason(_verdict(_plan(_block("someone-elses-bucket")), families, catalog),
                 "Bucket='someone-elses-bucket' is not the alert's resource 'payroll'")
    _only_reason(_verdict(_plan(_block(target="other")), families, catalog),
                 "target 'other' is not the alert's resource")


def test_an_arn_resource_matches_its_name_in_the_parameter(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/app"
    detach = _aws("iam", "DetachRolePolicy", {"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
                  target="app", region="")
    assert _verdict(_plan(detach, family="iam_policy_attachment", resource_id=arn), families, catalog).accepted


def test_account_wide_operations_target_the_plans_resource(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    ok = _aws("ec2", "EnableEbsEncryptionByDefault", {}, target=f"{ACCOUNT}-eu-west-1")
    plan = _plan(ok, family="ebs_default_encryption", resource_id=f"{ACCOUNT}-eu-west-1")
    assert _verdict(plan, families, catalog).accepted
    other = ok.model_copy(update={"target_resource": "210987654321-eu-west-1"})
    _only_reason(_verdict(_plan(other, family="ebs_default_encryption", resource_id=f"{ACCOUNT}-eu-west-1"),
                          families, catalog), "targets '210987654321-eu-west-1', not the alert's resource")


def test_a_trail_may_be_started_only_if_it_is_the_alerts_or_the_one_the_plan_creates(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    create = _aws("cloudtrail", "CreateTrail", {"Name": "new", "S3BucketName": "logs"}, target=ACCOUNT)
    start_new = _aws("cloudtrail", "StartLogging", {"Name": "new"}, target="new")
    start_other = _aws("cloudtrail", "StartLogging", {"Name": "other"}, target="other")
    assert _verdict(_plan(create, start_new, family="cloudtrail_disabled", resource_id=ACCOUNT), families, catalog).accepted
    _only_reason(_verdict(_plan(create, start_other, family="cloudtrail_disabled", resource_id=ACCOUNT), families,
                          catalog), "Name='other' is not the alert's resource")
    # The trail must be created *before* it is started.
    _only_reason(_verdict(_plan(start_new, create, family="cloudtrail_disabled", resource_id=ACCOUNT), families,
                          catalog), "Name='new' is not the alert's resource")


@pytest.mark.parametrize(("value", "reason"), [
    ("AKIAIOSFODNN7EXAMPLE", "credentials: an AWS access key id"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "something shaped like a secret access key"),
    ("--profile=admin", "credentials: '--profile'"),
    ("aws_session_token=abc", "credentials: 'aws_session_token'"),
])
def test_credentials_anywhere_in_the_parameters_are_refused(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, value: str, reason: str) -> None:
    action = _aws("cloudtrail", "CreateTrail", {"Name": "new", "S3BucketName": "logs", "KmsKeyId": value}, target=ACCOUNT)
    _only_reason(_verdict(_plan(action, family="cloudtrail_disabled", resource_id=ACCOUNT), families, catalog), reason)


@pytest.mark.parametrize(("region", "plan_region", "reason"), [
    ("moon-base-1", "eu-west-1", "region 'moon-base-1' is not an AWS region name"),
    ("us-east-1", "eu-west-1", "region us-east-1 is not the alert's region eu-west-1"),
    ("", "eu-west-1", "s3 needs a region"),
])
def test_the_region_must_be_the_alerts_aws_region(families: FamilyCatalog, catalog: BotocoreServiceCatalog,
                                                 region: str, plan_region: str, reason: str) -> None:
    _only_reason(_verdict(_plan(_block(region=region), region=plan_region), families, catalog), reason)


def test_an_aws_action_in_a_plan_for_another_cloud_is_refused(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    _only_reason(_verdict(_plan(_block(), cloud=Cloud.AZURE), families, catalog), "an AWS action in a plan for azure")


def test_an_unknown_family_fails_closed(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    verdict = _verdict(_plan(_block(), family="anything_goes"), families, catalog)
    _only_reason(verdict, "unknown policy family 'anything_goes'")
    _only_reason(verdict, "no allowlist: unknown policy family")


def _cli(kind: ActionKind, *argv: str) -> PlannedAction:
    return PlannedAction(kind=kind, target_resource="payroll", argv=argv)


def test_azure_and_gcp_argument_vectors_pass_on_an_allowlisted_prefix(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    azure = _cli(ActionKind.AZURE_CLI, "storage", "account", "update", "--name", "payroll",
                 "--allow-blob-public-access", "false", "--subscription", ACCOUNT)
    gcp = _cli(ActionKind.GCLOUD_CLI, "storage", "buckets", "update", "gs://payroll", "--public-access-prevention")
    assert _verdict(_plan(azure, family="azure_storage_public_access", cloud=Cloud.AZURE, region="westeurope"),
                    families, catalog).accepted
    assert _verdict(_plan(gcp, family="gcp_storage_public_access", cloud=Cloud.GCP, region="us-central1"),
                    families, catalog).accepted


@pytest.mark.parametrize(("argv", "reason"), [
    (("storage", "account", "delete", "--name", "payroll"),
     "is not an allowlisted azure command of azure_storage_public_access"),
    (("storage", "account", "update", "--name", "other"), "no argument names the alert's resource 'payroll'"),
    (("storage", "account", "update", "--name", "payroll", "--subscription", "other-sub"),
     "--subscription 'other-sub' is not the alert's account"),
    (("storage", "account", "update", "--name", "payroll;", "az", "role"), "shell syntax: ';'"),
    (("storage", "account", "update", "--name", "payroll", "--password", "x"), "credentials: '--password'"),
    (("--debug", "storage"), "the argument vector names no command"),
])
def test_azure_argument_vectors_outside_the_rules_are_refused(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, argv: tuple[str, ...], reason: str) -> None:
    plan = _plan(_cli(ActionKind.AZURE_CLI, *argv), family="azure_storage_public_access", cloud=Cloud.AZURE, region="")
    _only_reason(_verdict(plan, families, catalog), reason)


def test_a_gcloud_command_in_an_aws_plan_is_refused(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    gcp = _cli(ActionKind.GCLOUD_CLI, "storage", "buckets", "update", "gs://payroll")
    verdict = _verdict(_plan(gcp), families, catalog)
    _only_reason(verdict, "a gcp command in a plan for aws")
    _only_reason(verdict, "is not an allowlisted gcp command of s3_public_access")


def test_a_plan_for_another_cloud_than_its_familys_is_refused(families: FamilyCatalog,
                                                              catalog: BotocoreServiceCatalog) -> None:
    gcp = _cli(ActionKind.GCLOUD_CLI, "storage", "buckets", "update", "gs://payroll")
    _only_reason(_verdict(_plan(gcp, family="gcp_storage_public_access", cloud=Cloud.AZURE, region=""), families,
                          catalog), "family gcp_storage_public_access is for gcp, the plan for azure")


def _tf(snippet: str) -> PlannedAction:
    return PlannedAction(kind=ActionKind.TERRAFORM, target_resource="payroll", terraform=snippet)


_GOOD_BLOCK = ('resource "aws_s3_bucket_public_access_block" "this" {\n  bucket = "payroll"\n'
               "  block_public_acls = true\n  ignore_public_acls = true\n  block_public_policy = true\n"
               "  restrict_public_buckets = true\n}\n")


@pytest.mark.parametrize(("snippet", "reason"), [
    ('resource "aws_s3_bucket_public_access_block" "this" {\n  bucket = \n}\n', "does not parse"),
    ('resource "aws_iam_user" "x" {\n  name = "backdoor"\n}\n', "resource aws_iam_user not allowed for s3_public_access"),
    (_GOOD_BLOCK + 'data "external" "x" {\n  program = ["sh", "-c", "id"]\n}\n', "data external not allowed"),
    (_GOOD_BLOCK.replace("}\n", '  provisioner "local-exec" {\n    command = "id"\n  }\n}\n'),
     "provisioners run commands"),
    (_GOOD_BLOCK.replace('"payroll"', '"other-bucket"'), "bucket='other-bucket' is not the alert's resource"),
    (_GOOD_BLOCK.replace("ignore_public_acls = true", "ignore_public_acls = false"), "fails Checkov CKV_AWS_55"),
    ("", "empty Terraform snippet"),
])
def test_terraform_snippets_must_parse_stay_in_the_family_and_pass_checkov(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker,
        snippet: str, reason: str) -> None:
    _only_reason(_verdict(_plan(_tf(snippet)), families, catalog, terraform), reason)


def test_the_fixed_snippet_passes_and_without_a_checker_terraform_fails_closed(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    assert _verdict(_plan(_tf(_GOOD_BLOCK)), families, catalog, terraform).accepted
    _only_reason(_verdict(_plan(_tf(_GOOD_BLOCK)), families, catalog, None), "no Terraform checker is configured")


def test_the_verdict_lists_every_failure_of_every_action(families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    bad = _aws("iam", "CreateUser", {"UserName": "AKIAIOSFODNN7EXAMPLE"}, target="x", region="nowhere")
    verdict = _verdict(_plan(_block(), bad), families, catalog)
    assert verdict.actions[0].accepted and not verdict.actions[1].accepted
    assert len(verdict.actions[1].reasons) >= 3
    assert all(r.startswith("action 2 iam CreateUser: ") for r in verdict.reasons)


@pytest.mark.parametrize("sample_name", ["dassana/prisma_sqs_P-2388888.json",
                                         "xsoar-prismacloud/redlock_example_alert_P-4021.json"])
def test_real_prisma_alerts_go_from_payload_to_a_validated_plan(
        sample_name: str, families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    (raw,) = raw_alerts(sample(sample_name))
    scored = make_scored_alert(alert=normalise(raw))
    outcome = plan_for_alert(scored, families)
    assert outcome.plan is not None, outcome.reason
    assert outcome.plan.alert_id == scored.alert.alert_id and outcome.plan.resource_id == scored.alert.resource.resource_id
    verdict = validate_plan(outcome.plan, families, catalog, terraform)
    assert verdict.accepted, verdict.reasons

