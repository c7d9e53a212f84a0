"""CIEM test material: the constructed permission records of tests/data/ciem and CIEM alerts on a role
or on an EC2 instance that holds the role, built with the project's factories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processors.models import Alert, Environment, Module, ScoredAlert, Severity
from processors.remediation.least_privilege import PermissionRecord
from tests.factories import make_alert, make_enrichment, make_resource_ref, make_scored_alert

RECORDS_FILE = Path(__file__).resolve().parents[2] / "data" / "ciem" / "permissions_reporting_lambda.json"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reporting-lambda"
INSTANCE = "i-0a1b2c3d4e5f60718"
AS_OF = datetime(2026, 11, 30, 12, tzinfo=UTC)
ADMIN_INSTANCE_POLICY = "AWS EC2 instance with IAM role having administrative permissions (*:*)"
ADMIN_ROLE_POLICY = "AWS IAM role with administrative permissions"


def record_items() -> list[dict[str, Any]]:
    """The fixture's ``PermissionDto`` items, as the API returns them."""
    items: list[dict[str, Any]] = json.loads(RECORDS_FILE.read_text(encoding="utf-8"))["data"]["items"]
    return items


def role_records(**changes: Any) -> tuple[PermissionRecord, ...]:
    """The fixture's records, each with ``changes`` applied (``PermissionDto`` field names)."""
    return tuple(PermissionRecord.model_validate({**item, **changes}) for item in record_items())


def instance_records() -> tuple[PermissionRecord, ...]:
    """The role's records as Prisma reports them for the instance that holds the role."""
    return tuple(PermissionRecord.model_validate(
        {**item, "sourceResourceId": INSTANCE, "sourceResourceType": "instance"}
        if item["sourceResourceId"] == ROLE else item) for item in record_items())


def ciem_alert(*, on_instance: bool = False, alert_id: str = "I-226467", config: dict[str, Any] | None = None,
               resource_id: str | None = None, account_id: str = ACCOUNT, **changes: Any) -> ScoredAlert:
    """A critical, open CIEM alert (policy type ``iam``) in production on the role, or on an instance whose
    configuration names the role; ``changes`` override alert fields (``name``/``tags`` go to the resource)."""
    resource_id = resource_id or (INSTANCE if on_instance else ROLE)
    resource = make_resource_ref(
        asset_id=f"aws:{account_id}:eu-west-1:{resource_id}", resource_id=resource_id,
        name=changes.pop("name", "app-1" if on_instance else "reporting-lambda"),
        resource_type="aws-ec2-describe-instances" if on_instance else "aws-iam-list-roles",
        region="eu-west-1" if on_instance else "global", account_id=account_id, tags=changes.pop("tags", {}))
    if config is None:
        config = {"instanceId": INSTANCE, "iamInstanceProfile": {"arn": ROLE}} if on_instance else \
            {"roleName": "reporting-lambda", "arn": ROLE}
    enrichment = make_enrichment(resource_config_json=json.dumps(config), environment=Environment.PROD)
    fields: dict[str, Any] = {
        "alert_id": alert_id, "module": Module.CIEM, "policy_type": "iam", "policy_id": "ciem-admin",
        "policy_name": ADMIN_INSTANCE_POLICY if on_instance else ADMIN_ROLE_POLICY, "severity": Severity.CRITICAL,
        "resource": resource, "enrichment": enrichment, "vulnerabilities": [], "last_seen": AS_OF, **changes}
    alert: Alert = make_alert(**fields)
    return make_scored_alert(alert=alert, scored_at=AS_OF)
