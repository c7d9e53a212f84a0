"""The planner: which family an alert belongs to, and the exact, deterministic plan for it."""

from __future__ import annotations

import json

import pytest

from processors.models import Cloud, ScoredAlert
from processors.normalise import normalise
from processors.remediation.families import FamilyCatalog
from processors.remediation.plan import ActionKind, ChangeRisk
from processors.remediation.planner import plan_for_alert
from tests.factories import make_resource_ref, make_scored_alert
from tests.processors.real_corpus import raw_alerts, sample
from tests.processors.remediation.conftest import ACCOUNT, SUBSCRIPTION, family_alert


def _real(name: str) -> ScoredAlert:
    (raw,) = raw_alerts(sample(name))
    return make_scored_alert(alert=normalise(raw))


def _aws_calls(scored: ScoredAlert, families: FamilyCatalog) -> list[tuple[str, str, dict[str, object]]]:
    outcome = plan_for_alert(scored, families)
    assert outcome.plan is not None, outcome.reason
    return [(a.service, a.operation, a.parameters) for a in outcome.plan.actions if a.kind is ActionKind.AWS_API]


def test_a_public_bucket_gets_all_four_public_access_block_settings_and_the_terraform(families: FamilyCatalog) -> None:
    outcome = plan_for_alert(family_alert("s3_public_access"), families)
    assert outcome.plan is not None and outcome.family == "s3_public_access"
    aws, terraform = outcome.plan.actions
    assert (aws.service, aws.operation, aws.target_resource, aws.region) == (
        "s3", "PutPublicAccessBlock", "payroll-exports", "eu-west-1")
    assert aws.parameters == {"Bucket": "payroll-exports", "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}}
    assert terraform.kind is ActionKind.TERRAFORM and 'bucket                  = "payroll-exports"' in terraform.terraform
    assert (outcome.plan.change_risk, outcome.plan.touches_iam) == (ChangeRisk.LOW, False)


def test_the_plan_is_deterministic_the_same_alert_gives_the_same_plan_id_and_digest(families: FamilyCatalog) -> None:
    first = plan_for_alert(family_alert("security_group_ingress"), families).plan
    second = plan_for_alert(family_alert("security_group_ingress"), families).plan
    other = plan_for_alert(family_alert("security_group_ingress", resource_id="sg-0fffffffffffffff0"), families).plan
    assert first is not None and second is not None and other is not None
    assert (first.plan_id, first.digest()) == (second.plan_id, second.digest())
    assert other.plan_id != first.plan_id


def test_only_the_rules_open_to_the_internet_are_revoked(families: FamilyCatalog) -> None:
    config = {"ipPermissions": [
        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]},
        {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}
    [(service, operation, parameters)] = _aws_calls(family_alert("security_group_ingress", config=config), families)
    assert (service, operation) == ("ec2", "RevokeSecurityGroupIngress")
    assert parameters == {"GroupId": "sg-0a1b2c3d4e5f60718", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}


def test_without_a_configuration_the_port_the_policy_names_is_revoked(families: FamilyCatalog) -> None:
    [(_, _, parameters)] = _aws_calls(family_alert("security_group_ingress", config={}), families)
    assert parameters["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    no_port = plan_for_alert(family_alert("security_group_ingress", config={},
                                          policy_name="AWS Security Group overly permissive to all traffic"), families)
    assert no_port.plan is None and "no rule open to 0.0.0.0/0" in no_port.reason


def test_the_real_security_group_sample_revokes_its_open_all_protocol_rule(families: FamilyCatalog) -> None:
    # xsoar-prismacloud/prismacloudv2_full_alert_P-11111.json: its policy name is anonymised
    # ("Policy name"), so no family covers it as it is; with a real SG policy name it plans from its data.
    real = _real("xsoar-prismacloud/prismacloudv2_full_alert_P-11111.json")
    unnamed = plan_for_alert(real, families)
    assert unnamed.plan is None and "no remediation family" in unnamed.reason
    named = real.model_copy(update={"alert": real.alert.model_copy(
        update={"policy_name": "AWS Default Security Group does not restrict all traffic"})})
    [(_, operation, parameters)] = _aws_calls(named, families)
    assert operation == "RevokeSecurityGroupIngress"
    assert parameters == {"GroupId": "ab-11a2b3n4m",
                          "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}


def test_the_real_dassana_bucket_notification_is_planned_for_its_own_bucket(families: FamilyCatalog) -> None:
    real = _real("dassana/prisma_sqs_P-2388888.json")
    [(service, operation, parameters)] = _aws_calls(real, families)
    assert (service, operation, parameters["Bucket"]) == ("s3", "PutPublicAccessBlock", "foobar")


def test_the_real_cloudtrail_alert_creates_a_multi_region_trail_and_starts_it(families: FamilyCatalog) -> None:
    real = _real("xsoar-prismacloud/redlock_example_alert_P-4021.json")
    outcome = plan_for_alert(real, families)
    assert outcome.plan is not None and outcome.family == "cloudtrail_disabled"
    create, start, terraform = outcome.plan.actions
    assert (create.operation, create.parameters["Name"], create.parameters["IsMultiRegionTrail"],
            create.parameters["EnableLogFileValidation"]) == ("CreateTrail", "prismaflow-account-trail", True, True)
    assert create.parameters["S3BucketName"] == "aws-cloudtrail-logs-376492444671"
    assert (start.operation, start.parameters) == ("StartLogging", {"Name": "prismaflow-account-trail"})
    assert create.region == start.region == "us-east-1"  # the alert is "global": the home region
    assert "is_multi_region_trail         = true" in terraform.terraform


def test_a_stopped_trail_is_started_not_recreated(families: FamilyCatalog) -> None:
    arn = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/audit"
    calls = _aws_calls(family_alert("cloudtrail_disabled", resource_id=arn, resource_type="aws-cloudtrail-describe-trails",
                                    policy_name="AWS CloudTrail logging is disabled", region="eu-west-1"), families)
    assert calls == [("cloudtrail", "StartLogging", {"Name": arn})]


def test_an_admin_role_has_only_the_over_permissive_policy_detached(families: FamilyCatalog) -> None:
    outcome = plan_for_alert(family_alert("iam_policy_attachment"), families)
    assert outcome.plan is not None
    [action] = outcome.plan.actions
    assert (action.service, action.operation, action.region) == ("iam", "DetachRolePolicy", "")
    assert action.parameters == {"RoleName": "reporting-lambda",
                                 "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert (outcome.plan.change_risk, outcome.plan.touches_iam) == (ChangeRisk.HIGH, True)


def test_a_user_gets_detach_user_policy(families: FamilyCatalog) -> None:
    calls = _aws_calls(family_alert("iam_policy_attachment", resource_id=f"arn:aws:iam::{ACCOUNT}:user/alice",
                                    resource_type="aws-iam-list-users", config={}), families)
    assert calls == [("iam", "DetachUserPolicy", {"UserName": "alice",
                                                  "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})]


def test_an_iam_principal_whose_configuration_shows_no_admin_policy_gets_no_plan(families: FamilyCatalog) -> None:
    outcome = plan_for_alert(family_alert("iam_policy_attachment", config={"attachedPolicies": [
        {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/reporting-read"}]}), families)
    assert outcome.plan is None and "no over-permissive managed policy" in outcome.reason


def test_ebs_default_encryption_is_turned_on_in_the_alerts_region(families: FamilyCatalog) -> None:
    outcome = plan_for_alert(family_alert("ebs_default_encryption"), families)
    assert outcome.plan is not None
    aws, terraform = outcome.plan.actions
    assert (aws.operation, aws.parameters, aws.region, aws.target_resource) == (
        "EnableEbsEncryptionByDefault", {}, "eu-west-1", f"{ACCOUNT}-eu-west-1")
    assert "aws_ebs_encryption_by_default" in terraform.terraform
    global_region = plan_for_alert(family_alert("ebs_default_encryption", region="global"), families)
    assert global_region.plan is None and "per region" in global_region.reason


@pytest.mark.parametrize("policy_name", [
    "AWS EC2 instance with IMDSv1 enabled and public IP",
    "AWS S3 bucket not configured with secure data transport policy",
    "Azure Storage account blob container publicly accessible",
])
def test_policies_outside_the_families_get_no_plan(families: FamilyCatalog, policy_name: str) -> None:
    outcome = plan_for_alert(family_alert("s3_public_access", policy_name=policy_name), families)
    assert outcome.plan is None and outcome.reason.startswith("no remediation family covers")


def test_an_azure_resource_is_not_planned_with_aws_operations(families: FamilyCatalog) -> None:
    scored = family_alert("s3_public_access")
    azure = scored.model_copy(update={"alert": scored.alert.model_copy(update={
        "resource": make_resource_ref(cloud=Cloud.AZURE, resource_id="payroll-exports")})})
    assert plan_for_alert(azure, families).plan is None


def test_a_bucket_name_with_quotes_cannot_break_out_of_the_terraform_string(families: FamilyCatalog) -> None:
    name = 'x" \n  provisioner "local-exec" { command = "${curl evil}" }'
    outcome = plan_for_alert(family_alert("s3_public_access", resource_id=name), families)
    assert outcome.plan is not None
    snippet = outcome.plan.actions[1].terraform
    assert json.dumps(name).replace("${", "$${") in snippet
    assert '\n  provisioner' not in snippet



def test_a_public_azure_storage_account_gets_an_az_argument_vector_for_the_runner(families: FamilyCatalog) -> None:
    outcome = plan_for_alert(family_alert("azure_storage_public_access"), families)
    assert outcome.plan is not None and outcome.family == "azure_storage_public_access"
    cli, terraform = outcome.plan.actions
    assert cli.kind is ActionKind.AZURE_CLI and cli.argv == (
        "storage", "account", "update", "--name", "payrollexports", "--resource-group", "rg-data",
        "--subscription", SUBSCRIPTION, "--allow-blob-public-access", "false")
    assert "allow_nested_items_to_be_public = false" in terraform.terraform
    not_arm = plan_for_alert(family_alert("azure_storage_public_access", resource_id="payrollexports"), families)
    assert not_arm.plan is None and "not an Azure storage account id" in not_arm.reason


def test_a_public_gcs_bucket_gets_a_gcloud_argument_vector_for_the_runner(families: FamilyCatalog) -> None:
    outcome = plan_for_alert(family_alert("gcp_storage_public_access"), families)
    assert outcome.plan is not None and outcome.family == "gcp_storage_public_access"
    assert outcome.plan.actions[0].kind is ActionKind.GCLOUD_CLI
    assert outcome.plan.actions[0].argv == ("storage", "buckets", "update", "gs://analytics-exports",
                                            "--public-access-prevention", "--project", "analytics-prod-123456")


def test_an_aws_policy_name_on_an_azure_resource_is_not_an_aws_fix(families: FamilyCatalog) -> None:
    scored = family_alert("azure_storage_public_access", policy_name="AWS S3 buckets are accessible to public")
    assert plan_for_alert(scored, families).plan is None
