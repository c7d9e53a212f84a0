"""The AWS plug-in against a real moto server: each supported fix, dry run first, then for real.

Every test creates the misconfigured resource through boto3, runs the executor (a real child
process calling boto3), and reads the resource back through boto3: after the dry run it is
unchanged, after the real run it is fixed; the outcome's output records what was called and seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from connectors.aws.executor import AwsExecutor
from processors.remediation.execution import ActionOutcome, ActionStatus
from processors.remediation.plan import PlannedAction
from tests.processors.remediation.plan_factory import aws_action

Aws = Callable[..., Any]
PRIVATE = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _dry_then_real(executor: AwsExecutor, action: PlannedAction,
                   still_broken: Callable[[], bool]) -> tuple[ActionOutcome, ActionOutcome]:
    """The dry run's outcome (after checking, through boto3, that it changed nothing), then the real run's."""
    assert still_broken()
    dry = executor.run(action, index=0, dry_run=True, time_limit_s=60)
    assert dry.status is ActionStatus.DRY_RUN, (dry.error_class, dry.error_message)
    assert dry.output["would_call"]["operation"] == action.operation
    assert still_broken(), "the dry run changed the resource"
    real = executor.run(action, index=0, dry_run=False, time_limit_s=60)
    assert real.status is ActionStatus.OK, (real.error_class, real.error_message)
    assert not still_broken(), "the real run did not fix the resource"
    return dry, real


def _public_access_block(s3: Any, bucket: str) -> dict[str, Any] | None:
    try:
        config: dict[str, Any] = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None
    return config


def test_a_public_bucket_is_made_private(executor: AwsExecutor, aws: Aws, name: str) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    action = aws_action("s3", "PutPublicAccessBlock", name,
                        {"Bucket": name, "PublicAccessBlockConfiguration": PRIVATE})

    dry = executor.run(action, index=0, dry_run=True, time_limit_s=60)
    assert dry.status is ActionStatus.DRY_RUN
    assert dry.output["current_state"] == {"PublicAccessBlockConfiguration": None}
    assert _public_access_block(s3, name) is None  # the dry run changed nothing

    real = executor.run(action, index=0, dry_run=False, time_limit_s=60)
    assert real.status is ActionStatus.OK, (real.error_class, real.error_message)
    assert _public_access_block(s3, name) == PRIVATE
    assert real.output["state_before"] == {"PublicAccessBlockConfiguration": None}
    assert real.output["state_after"] == {"PublicAccessBlockConfiguration": PRIVATE}
    assert real.operation == "s3:PutPublicAccessBlock" and real.started_at <= real.ended_at


def test_an_open_ssh_rule_is_revoked_and_the_dry_run_asks_ec2_itself(executor: AwsExecutor, aws: Aws,
                                                                      name: str) -> None:
    ec2 = aws("ec2")
    group_id = ec2.create_security_group(GroupName=name, Description="open ssh")["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[rule])
    action = aws_action("ec2", "RevokeSecurityGroupIngress", group_id, {"GroupId": group_id, "IpPermissions": [rule]})

    def ingress() -> list[dict[str, Any]]:
        permissions: list[dict[str, Any]] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0][
            "IpPermissions"]
        return permissions

    dry, real = _dry_then_real(executor, action, lambda: ingress() != [])
    assert dry.output["dry_run_check"].startswith("DryRunOperation")
    assert [p["FromPort"] for p in dry.output["current_state"]["IpPermissions"]] == [22]
    assert ingress() == []
    assert real.output["state_after"]["IpPermissions"] == []


def test_an_admin_policy_is_detached_from_a_role_and_from_a_user(executor: AwsExecutor, aws: Aws, name: str) -> None:
    iam = aws("iam")
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},'
             '"Action":"sts:AssumeRole"}]}')
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.create_user(UserName=name)
    policy_arn = iam.create_policy(PolicyName=name, PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)

    role_fix = aws_action("iam", "DetachRolePolicy", name, {"RoleName": name, "PolicyArn": policy_arn})
    dry, real = _dry_then_real(executor, role_fix,
                               lambda: iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] != [])
    assert [p["PolicyArn"] for p in dry.output["current_state"]["AttachedPolicies"]] == [policy_arn]
    assert real.output["state_after"] == {"AttachedPolicies": []}

    user_fix = aws_action("iam", "DetachUserPolicy", name, {"UserName": name, "PolicyArn": policy_arn})
    _dry_then_real(executor, user_fix,
                   lambda: iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] != [])


def test_ebs_default_encryption_is_enabled_in_the_actions_region(executor: AwsExecutor, aws: Aws) -> None:
    ec2 = aws("ec2", region="eu-west-3")
    ec2.disable_ebs_encryption_by_default()
    action = aws_action("ec2", "EnableEbsEncryptionByDefault", "arn:aws:ec2:eu-west-3:123456789012:ebs-default",
                        {}, region="eu-west-3")

    dry, real = _dry_then_real(executor, action,
                               lambda: ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False)
    assert dry.output["dry_run_check"].startswith("DryRunOperation")
    assert dry.output["current_state"] == {"EbsEncryptionByDefault": False}
    assert real.output["state_after"] == {"EbsEncryptionByDefault": True}
    assert aws("ec2", region="us-west-2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False


def test_a_stopped_trail_starts_logging(executor: AwsExecutor, aws: Aws, name: str) -> None:
    aws("s3").create_bucket(Bucket=name)
    cloudtrail = aws("cloudtrail")
    cloudtrail.create_trail(Name=name, S3BucketName=name)
    action = aws_action("cloudtrail", "StartLogging", name, {"Name": name})

    dry, real = _dry_then_real(executor, action, lambda: cloudtrail.get_trail_status(Name=name)["IsLogging"] is False)
    assert dry.output["current_state"] == {"IsLogging": False}
    assert real.output["state_after"] == {"IsLogging": True}


def test_a_missing_trail_is_created_then_started(executor: AwsExecutor, aws: Aws, name: str) -> None:
    aws("s3").create_bucket(Bucket=name)
    # The planner targets the account for a trail it creates (the alert's resource), the new trail by name after.
    create = aws_action("cloudtrail", "CreateTrail", "123456789012", {"Name": name, "S3BucketName": name})

    dry = executor.run(create, index=0, dry_run=True, time_limit_s=60)
    assert dry.status is ActionStatus.DRY_RUN and dry.output["current_state"] == {"trailList": []}
    assert executor.run(create, index=0, dry_run=False, time_limit_s=60).status is ActionStatus.OK
    start = executor.run(aws_action("cloudtrail", "StartLogging", name, {"Name": name}), index=1, dry_run=False,
                         time_limit_s=60)
    assert start.status is ActionStatus.OK
    assert aws("cloudtrail").get_trail_status(Name=name)["IsLogging"] is True


def test_an_operation_outside_the_registry_is_refused_before_anything_runs(executor: AwsExecutor, aws: Aws,
                                                                           name: str) -> None:
    iam = aws("iam")
    iam.create_user(UserName=name)
    action = aws_action("iam", "DeleteUser", name, {"UserName": name})

    outcome = executor.run(action, index=0, dry_run=False, time_limit_s=60)

    assert outcome.status is ActionStatus.FAILED and outcome.error_class == "UnsupportedOperation"
    assert iam.get_user(UserName=name)["User"]["UserName"] == name


@pytest.mark.parametrize(("service", "operation"), [("iam", "DeleteUser"), ("s3", "DeleteBucket"),
                                                    ("ec2", "AuthorizeSecurityGroupIngress"), ("sts", "AssumeRole"),
                                                    ("s3", "putPublicAccessBlock"), ("S3", "PutPublicAccessBlock")])
def test_the_child_refuses_unregistered_operations_even_when_asked_directly(service: str, operation: str) -> None:
    from connectors.aws.child import run_job

    result = run_job({"service": service, "operation": operation, "parameters": {}, "region": "us-east-1",
                      "endpoint_url": "http://127.0.0.1:9", "dry_run": False})
    assert result["status"] == "failed" and result["error_class"] == "UnsupportedOperation"


def test_an_aws_error_is_reported_with_its_code_and_nothing_changes(executor: AwsExecutor, name: str) -> None:
    action = aws_action("s3", "PutPublicAccessBlock", name, {"Bucket": name, "PublicAccessBlockConfiguration": PRIVATE})
    outcome = executor.run(action, index=0, dry_run=False, time_limit_s=60)
    assert outcome.status is ActionStatus.FAILED
    assert outcome.error_class == "NoSuchBucket" and outcome.error_message


def test_invalid_parameters_are_refused_by_botocore_before_the_call(executor: AwsExecutor, aws: Aws, name: str) -> None:
    aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    action = aws_action("iam", "DetachRolePolicy", name, {"RoleName": name, "PolicyArn": 7, "Extra": "x"})
    outcome = executor.run(action, index=0, dry_run=False, time_limit_s=60)
    assert outcome.status is ActionStatus.FAILED and outcome.error_class == "ParamValidationError"


@pytest.mark.parametrize(("target", "parameters"), [
    ("payroll", {"Bucket": "someone-elses-bucket"}),
    ("arn:aws:s3:::payroll", {"Bucket": "payroll-logs"}),
    ("payroll", {}),
])
def test_an_action_whose_parameters_name_another_resource_is_refused(executor: AwsExecutor, target: str,
                                                                    parameters: dict[str, Any]) -> None:
    action = aws_action("s3", "PutPublicAccessBlock", target,
                        {**parameters, "PublicAccessBlockConfiguration": PRIVATE})
    outcome = executor.run(action, index=0, dry_run=True, time_limit_s=60)
    assert outcome.status is ActionStatus.FAILED and outcome.error_class == "TargetMismatch"


def test_a_target_given_as_an_arn_matches_its_name(executor: AwsExecutor, aws: Aws, name: str) -> None:
    aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    action = aws_action("iam", "DetachRolePolicy", f"arn:aws:iam::123456789012:role/{name}",
                        {"RoleName": name, "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    outcome = executor.run(action, index=0, dry_run=True, time_limit_s=60)
    assert outcome.status is ActionStatus.DRY_RUN and outcome.output["current_state"] == {"AttachedPolicies": []}
