"""Requests on an in-memory desk and users of a user store, for the console and channel tests.

The plans are built from the documented model (:mod:`processors.remediation.plan`): an S3 public
access block on a production bucket (two approvals) and a dev security group change (one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.models import Cloud, Environment
from processors.remediation.desk import PendingRequest
from processors.remediation.memory_desk import InMemoryDesk
from processors.remediation.plan import ActionKind, ChangeRisk, PlannedAction, RemediationPlan
from streams.console.users import ConsoleUser, Role, UserStore, hash_password

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-2", "vera": "vera-pass-3", "ada": "ada-pass-4"}
ROLES = {"alice": Role.APPROVER, "bob": Role.APPROVER, "vera": Role.VIEWER, "ada": Role.ADMIN}
_HASHES: dict[str, str] = {}


def user_store() -> UserStore:
    """alice and bob approve, vera views, ada administers (hashes made once per test session)."""
    for name, password in PASSWORDS.items():
        if name not in _HASHES:
            _HASHES[name] = hash_password(password)
    return UserStore.from_users(*(ConsoleUser(name=name, role=ROLES[name], password_hash=_HASHES[name])
                                  for name in PASSWORDS))


def make_plan(**overrides: Any) -> RemediationPlan:
    values: dict[str, Any] = {
        "plan_id": "plan-1", "alert_id": "P-1001", "asset_id": "asset-1", "policy_family": "s3_public_access",
        "cloud": Cloud.AWS, "account_id": "123456789012", "region": "eu-west-1",
        "resource_id": "arn:aws:s3:::payments-exports", "environment": Environment.PROD,
        "summary": "Block public access on bucket payments-exports", "change_risk": ChangeRisk.MEDIUM,
        "actions": (PlannedAction(
            kind=ActionKind.AWS_API, description="Turn on all four public access block settings",
            target_resource="arn:aws:s3:::payments-exports", region="eu-west-1", service="s3",
            operation="PutPublicAccessBlock",
            parameters={"Bucket": "payments-exports", "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True}}),),
    }
    values.update(overrides)
    return RemediationPlan(**values)


def make_request(request_id: str = "req-1", *, required: int = 2, requested_at: datetime = T0,
                 expires_in: timedelta | None = timedelta(hours=4), **plan_overrides: Any) -> PendingRequest:
    plan = make_plan(**plan_overrides)
    return PendingRequest(
        request_id=request_id, alert_id=plan.alert_id, plan=plan, plan_digest=plan.digest(),
        required_approvals=required, status="pending", requested_at=requested_at,
        expires_at=None if expires_in is None else requested_at + expires_in,
        analysis_summary="The bucket allows public reads through its ACL; it holds payment exports.",
        evidence=("GetBucketAcl: AllUsers READ", "Object count 1,204"),
        risk_factors=("Internet exposed", "Sensitive data"),
        terraform_diff='  resource "aws_s3_bucket_public_access_block" "payments" {\n+   block_public_acls = true\n  }',
    )


class Clock:
    """A settable clock for the desk (datetime) and the signers (epoch seconds)."""

    def __init__(self, start: datetime = T0 + timedelta(minutes=5)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def desk_with(*requests: PendingRequest, clock: Callable[[], datetime] | None = None) -> InMemoryDesk:
    desk = InMemoryDesk(clock or Clock())
    for request in requests:
        desk.add(request)
    return desk
