"""The families file: every allowlisted operation is real, every target is one of its inputs, and bad files fail."""

from __future__ import annotations

import pytest

from connectors.aws.service_models import BotocoreServiceCatalog
from processors.errors import ConfigurationError
from processors.remediation.families import ACCOUNT_TARGET, FamilyCatalog, parse_families
from tests.processors.remediation.conftest import FAMILIES_FILE, family_alert

SHARED_FAMILIES = {"s3_public_access", "security_group_ingress", "iam_policy_attachment", "ebs_default_encryption",
                   "cloudtrail_disabled"}


def test_the_file_defines_the_five_families_the_remediation_path_shares(families: FamilyCatalog) -> None:
    assert {f.name for f in families.families} >= SHARED_FAMILIES


def test_every_allowlisted_operation_exists_and_its_target_is_an_input_member(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    for family in families.families:
        for allowed in family.aws_operations:
            shape = catalog.input_shape(allowed.service, allowed.operation)
            assert shape is not None, f"{family.name}: {allowed.service} {allowed.operation} is not in botocore"
            if allowed.target != ACCOUNT_TARGET:
                assert allowed.target in shape.members, f"{family.name}: {allowed.operation} has no {allowed.target}"


def test_nothing_that_grants_or_opens_is_allowlisted(families: FamilyCatalog) -> None:
    granting = ("Attach", "Put", "Authorize", "Create", "Add")
    for family in families.families:
        for allowed in family.aws_operations:
            if allowed.operation.startswith(granting):
                # The only ones: the public access *block*, creating the missing trail, and the CIEM
                # least-privilege inline policy, whose document validation lints (parliament) first.
                assert (allowed.service, allowed.operation) in {("s3", "PutPublicAccessBlock"),
                                                                ("cloudtrail", "CreateTrail"),
                                                                ("iam", "PutRolePolicy")}


@pytest.mark.parametrize(("policy_name", "family"), [
    ("AWS S3 Buckets Block public access setting disabled", "s3_public_access"),
    ("AWS S3 bucket has global view ACL permissions enabled", "s3_public_access"),
    ("AWS Security Group allows all traffic on SSH port (22)", "security_group_ingress"),
    ("AWS Default Security Group does not restrict all traffic", "security_group_ingress"),
    ("AWS IAM policy attached to users", "iam_policy_attachment"),
    ("AWS IAM Roles with Administrator Access Permissions", "iam_policy_attachment"),
    ("AWS EBS volume region with encryption is disabled", "ebs_default_encryption"),
    ("AWS CloudTrail logging is disabled", "cloudtrail_disabled"),
])
def test_prisma_policy_names_are_classified_into_their_family(families: FamilyCatalog, policy_name: str,
                                                               family: str) -> None:
    resource_type = "aws-ec2-describe-security-groups" if family == "security_group_ingress" else "other"
    scored = family_alert(family, policy_name=policy_name, resource_type=resource_type)
    matched = families.classify(scored.alert)
    assert matched is not None and matched.name == family


def test_a_security_group_policy_on_an_instance_is_not_a_security_group_fix(families: FamilyCatalog) -> None:
    scored = family_alert("security_group_ingress", resource_type="aws-ec2-describe-instances",
                          policy_name="AWS Security Group allows all traffic on SSH port (22)")
    assert families.classify(scored.alert) is None


@pytest.mark.parametrize(("text", "message"), [
    ("families: {x: {match: {}, change_risk: low, touches_iam: false, surprise: 1}}", "surprise"),
    ("families: {x: {match: {name_patterns: ['(']}, change_risk: low, touches_iam: false}}", "invalid pattern"),
    ("families: {x: {cloud: aws, match: {}, change_risk: reckless, touches_iam: false}}", "change_risk"),
    ("families: {x: {cloud: mars, match: {}, change_risk: low, touches_iam: false}}", "cloud"),
    ("families: {x: {cloud: aws, match: {}, change_risk: low, touches_iam: false, aws_operations: "
     "[{service: cloudtrail, operation: StartLogging, target: Name, or_created_by: CreateTrail}]}}",
     "refers to CreateTrail, which is not in its allowlist"),
    ("nothing: here", "families"),
    (": [", "invalid"),
])
def test_an_invalid_families_file_is_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="remediation families test.yaml") as raised:
        parse_families(text, "test.yaml")
    assert message in str(raised.value)


def test_the_shipped_file_parses() -> None:
    assert parse_families(FAMILIES_FILE.read_text(encoding="utf-8"), "x").get("s3_public_access") is not None
