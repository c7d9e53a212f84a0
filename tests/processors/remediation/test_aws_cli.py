"""Suggested AWS CLI commands become structured actions on botocore's model, or are refused with reasons."""

from __future__ import annotations

import pytest

from connectors.aws.service_models import BotocoreServiceCatalog
from processors.remediation.aws_cli import translate_aws_command
from processors.remediation.shorthand import ShorthandError, parse_shorthand

ALL_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
               "RestrictPublicBuckets": True}


@pytest.mark.parametrize(("command", "service", "operation", "parameters"), [
    ("aws s3api put-public-access-block --bucket payroll --public-access-block-configuration "
     "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
     "s3", "PutPublicAccessBlock", {"Bucket": "payroll", "PublicAccessBlockConfiguration": ALL_BLOCKED}),
    ("aws s3api put-public-access-block --bucket payroll --public-access-block-configuration "
     "'{\"BlockPublicAcls\": true, \"IgnorePublicAcls\": true, \"BlockPublicPolicy\": true, "
     "\"RestrictPublicBuckets\": true}'",
     "s3", "PutPublicAccessBlock", {"Bucket": "payroll", "PublicAccessBlockConfiguration": ALL_BLOCKED}),
    ("aws ec2 revoke-security-group-ingress --group-id sg-1 --protocol tcp --port 22 --cidr 0.0.0.0/0",
     "ec2", "RevokeSecurityGroupIngress", {"GroupId": "sg-1", "IpPermissions": [
         {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
    ("aws ec2 revoke-security-group-ingress --group-id sg-1 --protocol all --cidr ::/0",
     "ec2", "RevokeSecurityGroupIngress", {"GroupId": "sg-1", "IpPermissions": [
         {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}),
    ("aws ec2 revoke-security-group-ingress --group-id sg-1 --ip-permissions "
     "IpProtocol=tcp,FromPort=3389,ToPort=3389,IpRanges=[{CidrIp=0.0.0.0/0}]",
     "ec2", "RevokeSecurityGroupIngress", {"GroupId": "sg-1", "IpPermissions": [
         {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
    ("aws iam detach-role-policy --role-name app --policy-arn arn:aws:iam::aws:policy/AdministratorAccess",
     "iam", "DetachRolePolicy", {"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ("aws iam detach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AdministratorAccess",
     "iam", "DetachUserPolicy", {"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ("aws ec2 enable-ebs-encryption-by-default --no-dry-run", "ec2", "EnableEbsEncryptionByDefault",
     {"DryRun": False}),
    ("aws cloudtrail start-logging --name audit", "cloudtrail", "StartLogging", {"Name": "audit"}),
    ("aws cloudtrail create-trail --name audit --s3-bucket-name logs --is-multi-region-trail "
     "--enable-log-file-validation", "cloudtrail", "CreateTrail",
     {"Name": "audit", "S3BucketName": "logs", "IsMultiRegionTrail": True, "EnableLogFileValidation": True}),
])
def test_the_five_families_commands_map_onto_botocore_operations(
        catalog: BotocoreServiceCatalog, command: str, service: str, operation: str,
        parameters: dict[str, object]) -> None:
    translation = translate_aws_command(command, catalog, region="eu-west-1")
    assert translation.reasons == ()
    assert translation.action is not None
    assert (translation.action.service, translation.action.operation) == (service, operation)
    assert translation.action.parameters == parameters
    assert translation.action.region == "eu-west-1"


def test_region_option_overrides_the_alerts_region_and_output_options_are_ignored(
        catalog: BotocoreServiceCatalog) -> None:
    translation = translate_aws_command("aws cloudtrail start-logging --name t --region us-west-2 --output json",
                                        catalog, region="eu-west-1")
    assert translation.action is not None and translation.action.region == "us-west-2"


@pytest.mark.parametrize(("command", "reason"), [
    ("aws s3api put-public-access-block --bucket b; rm -rf /", "shell syntax: ';'"),
    ("aws s3api get-bucket-policy --bucket b | sh", "shell syntax: '|' (pipe)"),
    ("aws s3api get-bucket-policy --bucket b && curl x", "shell syntax: '&&'"),
    ("aws s3api get-bucket-policy --bucket $(whoami)", "shell syntax: '$('"),
    ("aws s3api get-bucket-policy --bucket `id`", "shell syntax: a backtick"),
    ("aws s3api get-bucket-policy --bucket b > /tmp/x", "shell syntax: '>'"),
    ("aws s3api get-bucket-policy --bucket b\naws iam create-user --user-name x", "shell syntax: a newline"),
    ("aws s3api get-bucket-policy --bucket b --profile prod-admin", "credentials: '--profile'"),
    ("aws s3api get-bucket-policy --bucket AKIAIOSFODNN7EXAMPLE", "credentials: an AWS access key id"),
    ("aws s3api get-bucket-policy --bucket b --endpoint-url https://evil.example.com", "--endpoint-url"),
    ("aws s3api put-public-access-block --bucket b --public-access-block-configuration file:///etc/passwd",
     "file:// or URL value"),
    ("aws s3api put-public-access-block --bucket b --cli-input-json '{}'", "--cli-input-json"),
    ("aws s3api get-bucket-policy --bucket b --no-verify-ssl", "--no-verify-ssl"),
    ("aws s3api put-public-access-block --bucket b --public-access-block-configuration Block=1",
     "unknown member(s) Block"),
    ("aws s3api put-public-access-block --bucket b --public-access-block-configuration BlockPublicAcls=maybe",
     "must be true or false"),
    ("aws s3api put-public-access-block --bucket b", 'Missing required parameter in input: '
                                                      '"PublicAccessBlockConfiguration"'),
    ("aws s3api put-public-access-block --bucket b --acl public-read --public-access-block-configuration "
     "BlockPublicAcls=true", "unknown parameter --acl"),
    ("aws s3api make-bucket-public --bucket b", "is not an operation in botocore's models"),
    ("aws notaservice do-thing", "is not an operation in botocore's models"),
    ("aws s3 rm s3://b --recursive", "expected 'aws <service> <operation>'"),
    ("sudo aws s3api get-bucket-policy --bucket b", "must start with 'aws'"),
    ("aws s3api get-bucket-policy --bucket 'b", "not a well-formed command"),
    ("aws s3api get-bucket-policy --bucket b --bucket c", "--bucket given more than once"),
    ("aws s3api get-bucket-policy --bucket pay\u200broll", "invisible or control characters U+200B"),
    ("aws s3api get-bucket-policy --bucket p\u0430yroll", "non-ASCII characters U+0430"),
    ("aws ec2 revoke-security-group-ingress --group-id sg-1 --protocol tcp --port ssh --cidr 0.0.0.0/0",
     "--port must be a port or a range"),
])
def test_commands_that_are_not_a_plain_api_call_are_refused_with_the_reason(
        catalog: BotocoreServiceCatalog, command: str, reason: str) -> None:
    translation = translate_aws_command(command, catalog)
    assert translation.action is None
    assert any(reason in r for r in translation.reasons), translation.reasons


def test_every_reason_is_reported_not_just_the_first(catalog: BotocoreServiceCatalog) -> None:
    translation = translate_aws_command("aws iam attach-role-policy --profile x --role-name r; id", catalog)
    assert len(translation.reasons) >= 2


def test_shorthand_parses_nested_structures_lists_and_quoted_values() -> None:
    assert parse_shorthand('IpProtocol=tcp,IpRanges=[{CidrIp=0.0.0.0/0},{CidrIp=10.0.0.0/8}]') == {
        "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}]}
    assert parse_shorthand("Key=InstanceIds,Values=i-1,i-2") == {"Key": "InstanceIds", "Values": ["i-1", "i-2"]}
    assert parse_shorthand('Description="a, b",Port=1') == {"Description": "a, b", "Port": "1"}


@pytest.mark.parametrize("text", ["A", "A=[1", "A=1,,", "A=1}", 'A="x', "A=1,A=2", "A={B={C={D={E={F={G={H={I={J=1}}}}}}}}}"])
def test_shorthand_that_cannot_be_read_raises(text: str) -> None:
    with pytest.raises(ShorthandError):
        parse_shorthand(text)
