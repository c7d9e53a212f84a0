"""botocore's bundled service models answer the catalog port: operations, input shapes, validation."""

from __future__ import annotations

import pytest

from connectors.aws.service_models import BotocoreServiceCatalog


@pytest.fixture(scope="module")
def catalog() -> BotocoreServiceCatalog:
    return BotocoreServiceCatalog()


@pytest.mark.parametrize(("service", "verb", "operation"), [
    ("s3", "put-public-access-block", "PutPublicAccessBlock"),
    ("ec2", "revoke-security-group-ingress", "RevokeSecurityGroupIngress"),
    ("ec2", "enable-ebs-encryption-by-default", "EnableEbsEncryptionByDefault"),
    ("iam", "detach-role-policy", "DetachRolePolicy"),
    ("cloudtrail", "start-logging", "StartLogging"),
    ("rds", "describe-db-instances", "DescribeDBInstances"),  # botocore's own transform, not a naive one
])
def test_cli_verbs_name_the_operations_the_models_define(catalog: BotocoreServiceCatalog, service: str,
                                                         verb: str, operation: str) -> None:
    assert catalog.operation_for_cli(service, verb) == operation
    assert catalog.operation_exists(service, operation)


def test_unknown_services_and_operations_are_not_found(catalog: BotocoreServiceCatalog) -> None:
    assert catalog.operation_for_cli("s3", "make-bucket-public") is None
    assert catalog.operation_for_cli("no-such-service", "x") is None
    assert not catalog.operation_exists("s3", "MakeBucketPublic")
    assert catalog.input_shape("no-such-service", "X") is None
    assert catalog.parameter_errors("s3", "MakeBucketPublic", {}) == ("s3 has no operation MakeBucketPublic",)


def test_the_input_shape_carries_member_types_and_cli_names(catalog: BotocoreServiceCatalog) -> None:
    shape = catalog.input_shape("s3", "PutPublicAccessBlock")
    assert shape is not None
    assert shape.cli_names["public-access-block-configuration"] == "PublicAccessBlockConfiguration"
    config = shape.members["PublicAccessBlockConfiguration"]
    assert config.type_name == "structure" and config.members["BlockPublicAcls"].type_name == "boolean"
    permissions = catalog.input_shape("ec2", "RevokeSecurityGroupIngress")
    assert permissions is not None
    ranges = permissions.members["IpPermissions"].member
    assert ranges is not None and ranges.members["FromPort"].type_name == "integer"


def test_parameter_validation_is_botocores_param_validator(catalog: BotocoreServiceCatalog) -> None:
    assert catalog.parameter_errors("iam", "DetachRolePolicy", {
        "RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}) == ()
    errors = catalog.parameter_errors("iam", "DetachRolePolicy", {"RoleName": 7, "Extra": "x"})
    assert any('Missing required parameter in input: "PolicyArn"' in e for e in errors)
    assert any('Unknown parameter in input: "Extra"' in e for e in errors)
    assert any("Invalid type for parameter RoleName" in e for e in errors)
