"""A scored alert built through the factories, with the fields the analysis tests vary."""

from __future__ import annotations

from typing import Any

from processors.models import Cloud, Environment, RiskTier, ScoredAlert
from tests.factories import (
    make_alert,
    make_enrichment,
    make_resource_ref,
    make_scored_alert,
)


def scored_alert(
    *,
    policy_name: str = "AWS S3 bucket publicly readable via ACL or bucket policy",
    policy_type: str = "config",
    cloud: Cloud = Cloud.AWS,
    name: str = "payments-exports",
    resource_id: str = "arn:aws:s3:::payments-exports",
    resource_type: str = "aws-s3api-get-bucket-acl",
    account_id: str = "123456789012",
    environment: Environment = Environment.PROD,
    tier: RiskTier = RiskTier.CRITICAL,
    score: int = 88,
    config: str = '{"PublicAccessBlock": {"BlockPublicAcls": false}, "Grants": [{"Permission": "READ"}]}',
    recommendation: str = "Enable S3 Block Public Access on the bucket and remove public grants.",
    description: str = "Identifies S3 buckets readable by anyone on the internet.",
    tags: dict[str, str] | None = None,
    vulnerabilities: list[Any] | None = None,
    **scored: Any,
) -> ScoredAlert:
    """A scored alert built through the factories, with the fields the analysis tests vary."""
    resource = make_resource_ref(
        asset_id=f"{cloud.value}:{account_id}:{name}", resource_id=resource_id, name=name, resource_type=resource_type,
        cloud=cloud, account_id=account_id, tags=tags if tags is not None else {"env": environment.value},
    )
    alert = make_alert(
        policy_name=policy_name, policy_type=policy_type, resource=resource, recommendation=recommendation,
        description=description, vulnerabilities=vulnerabilities or [],
        enrichment=make_enrichment(environment=environment, resource_config_json=config),
    )
    defaults: dict[str, Any] = {"alert": alert, "tier": tier, "score": score, "incident_id": None, "incident_members": []}
    return make_scored_alert(**{**defaults, **scored})
