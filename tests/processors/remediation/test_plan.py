"""The remediation plan is a frozen value whose digest changes with any part of it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from processors.models import Cloud, Environment
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan


def _plan(**overrides: object) -> RemediationPlan:
    fields: dict[str, object] = {
        "plan_id": "plan-1",
        "alert_id": "P-1001",
        "asset_id": "aws:123456789012:us-east-1:s3:bucket/payroll",
        "policy_family": "s3_public_access",
        "cloud": Cloud.AWS,
        "account_id": "123456789012",
        "region": "us-east-1",
        "resource_id": "payroll",
        "environment": Environment.PROD,
        "actions": (
            PlannedAction(
                kind=ActionKind.AWS_API,
                target_resource="payroll",
                service="s3",
                operation="PutPublicAccessBlock",
                parameters={
                    "Bucket": "payroll",
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    },
                },
            ),
        ),
    }
    fields.update(overrides)
    return RemediationPlan.model_validate(fields)


def test_the_digest_is_stable_for_equal_plans() -> None:
    assert _plan().digest() == _plan().digest()
    assert len(_plan().digest()) == 64


def test_changing_a_parameter_or_the_target_changes_the_digest() -> None:
    action = _plan().actions[0]
    other_bucket = action.model_copy(update={"parameters": {**action.parameters, "Bucket": "other"}})
    assert _plan(actions=(other_bucket,)).digest() != _plan().digest()
    assert _plan(resource_id="other").digest() != _plan().digest()
    assert _plan(environment=Environment.DEV).digest() != _plan().digest()


def test_a_plan_needs_at_least_one_action() -> None:
    with pytest.raises(ValidationError):
        _plan(actions=())


def test_parameters_must_be_json_values() -> None:
    with pytest.raises(ValidationError, match="JSON values"):
        PlannedAction(kind=ActionKind.AWS_API, target_resource="x", parameters={"when": object()})


def test_a_plan_is_frozen() -> None:
    with pytest.raises(ValidationError):
        _plan().summary = "changed"
