"""Plans for the executor's tests: one alert, one resource, the actions a test names."""

from __future__ import annotations

from typing import Any

from processors.models import Cloud, Environment
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan


def aws_action(service: str, operation: str, target: str, parameters: dict[str, Any], region: str = "") -> PlannedAction:
    """One AWS_API action."""
    return PlannedAction(kind=ActionKind.AWS_API, target_resource=target, region=region, service=service,
                         operation=operation, parameters=parameters, description=f"{service} {operation}")


def cli_action(kind: ActionKind, target: str, *argv: str) -> PlannedAction:
    """One AZURE_CLI or GCLOUD_CLI action."""
    return PlannedAction(kind=kind, target_resource=target, argv=argv)


def make_plan(*actions: PlannedAction, **overrides: Any) -> RemediationPlan:
    """A plan for alert P-1001 on resource ``overrides['resource_id']`` (default the first action's target)."""
    fields: dict[str, Any] = {
        "plan_id": "plan-1", "alert_id": "P-1001", "asset_id": "aws:123456789012:us-east-1:resource",
        "policy_family": "s3_public_access", "cloud": Cloud.AWS, "account_id": "123456789012",
        "region": "us-east-1", "resource_id": actions[0].target_resource, "environment": Environment.DEV,
        "actions": actions,
    }
    fields.update(overrides)
    return RemediationPlan.model_validate(fields)
