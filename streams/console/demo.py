"""Sample requests for ``prismaflow console --demo``: the console over an in-memory desk.

The demo shows the pages and the flows (two approvals for production, one for dev) without the
approval service; decisions live only as long as the process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from processors.models import Cloud, Environment
from processors.remediation.desk import PendingRequest
from processors.remediation.memory_desk import InMemoryDesk
from processors.remediation.plan import ActionKind, ChangeRisk, PlannedAction, RemediationPlan

__all__ = ["demo_desk"]


def _request(request_id: str, plan: RemediationPlan, required: int, now: datetime, **extra: object) -> PendingRequest:
    return PendingRequest.model_validate({
        "request_id": request_id, "alert_id": plan.alert_id, "plan": plan, "plan_digest": plan.digest(),
        "required_approvals": required, "status": "pending", "requested_at": now,
        "expires_at": now + timedelta(hours=24), **extra})


def demo_desk() -> InMemoryDesk:
    """An in-memory desk holding a production S3 fix (two approvals) and a dev security group fix (one)."""
    now = datetime.now(UTC)
    desk = InMemoryDesk(lambda: datetime.now(UTC))
    bucket = RemediationPlan(
        plan_id="demo-plan-s3", alert_id="P-DEMO-1", asset_id="demo-asset-1", policy_family="s3_public_access",
        cloud=Cloud.AWS, account_id="123456789012", region="eu-west-1", resource_id="arn:aws:s3:::demo-exports",
        environment=Environment.PROD, summary="Block public access on bucket demo-exports",
        change_risk=ChangeRisk.MEDIUM, actions=(PlannedAction(
            kind=ActionKind.AWS_API, target_resource="arn:aws:s3:::demo-exports", region="eu-west-1",
            service="s3", operation="PutPublicAccessBlock", description="Turn on the four public access blocks",
            parameters={"Bucket": "demo-exports", "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True}}),))
    group = RemediationPlan(
        plan_id="demo-plan-sg", alert_id="P-DEMO-2", asset_id="demo-asset-2", policy_family="security_group_ingress",
        cloud=Cloud.AWS, account_id="123456789012", region="eu-west-1", resource_id="sg-0demo",
        environment=Environment.DEV, summary="Remove SSH from 0.0.0.0/0 on sg-0demo", change_risk=ChangeRisk.LOW,
        actions=(PlannedAction(
            kind=ActionKind.AWS_API, target_resource="sg-0demo", region="eu-west-1", service="ec2",
            operation="RevokeSecurityGroupIngress", description="Revoke the open SSH rule",
            parameters={"GroupId": "sg-0demo", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),))
    desk.add(_request("demo-req-1", bucket, 2, now, analysis_summary="Public reads through the bucket ACL.",
                      evidence=("GetBucketAcl: AllUsers READ",), risk_factors=("Internet exposed",)))
    desk.add(_request("demo-req-2", group, 1, now, risk_factors=("SSH open to the internet",)))
    return desk
