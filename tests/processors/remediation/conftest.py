"""Shared by the remediation tests: the real families file, botocore's models, python-hcl2 + Checkov,
parliament, and alerts of each family built with the project's factories.

Everything validation talks to is the real thing. Checkov takes seconds per run, so its results are
memoised per (snippet, checks) for the session: every distinct snippet is still checked by Checkov.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import processors.remediation
from connectors.aws.iam_lint import ParliamentLinter
from connectors.aws.service_models import BotocoreServiceCatalog
from connectors.iac.terraform import HclTerraformChecker, TerraformCheckerSettings
from processors.models import Alert, Cloud, Environment, ScoredAlert
from processors.remediation.families import FamilyCatalog, parse_families
from processors.remediation.ports import TerraformBlock, TerraformFinding
from tests.factories import make_alert, make_enrichment, make_resource_ref, make_scored_alert

ROOT = Path(__file__).resolve().parents[3]
FAMILIES_FILE = Path(processors.remediation.__file__).parent / "families.yaml"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
ACCOUNT = "123456789012"
SUBSCRIPTION = "8f3c2a1e-4b5d-4c6e-9f70-112233445566"


class MemoisingChecker:
    """The real checker; Checkov's answer for a snippet it has already checked is reused."""

    def __init__(self, inner: HclTerraformChecker) -> None:
        self.inner = inner
        self.checkov_runs = 0
        self._memo: dict[tuple[str, tuple[str, ...]], tuple[TerraformFinding, ...]] = {}

    def parse_errors(self, snippet: str) -> tuple[str, ...]:
        return self.inner.parse_errors(snippet)

    def blocks(self, snippet: str) -> tuple[TerraformBlock, ...]:
        return self.inner.blocks(snippet)

    def failed_checks(self, snippet: str, check_ids: Sequence[str]) -> tuple[TerraformFinding, ...]:
        key = (snippet, tuple(check_ids))
        if key not in self._memo:
            self.checkov_runs += 1
            self._memo[key] = self.inner.failed_checks(snippet, check_ids)
        return self._memo[key]


@pytest.fixture(scope="session")
def families() -> FamilyCatalog:
    return parse_families(FAMILIES_FILE.read_text(encoding="utf-8"), str(FAMILIES_FILE))


@pytest.fixture(scope="session")
def catalog() -> BotocoreServiceCatalog:
    return BotocoreServiceCatalog()


@pytest.fixture(scope="session")
def terraform() -> MemoisingChecker:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make install` (it builds .venv-checkov)"
    return MemoisingChecker(HclTerraformChecker(TerraformCheckerSettings(checkov=str(CHECKOV))))


@pytest.fixture(scope="session")
def linter() -> ParliamentLinter:
    return ParliamentLinter()


# One representative Prisma policy per family, with the resource it is raised on.
FAMILY_ALERTS: dict[str, dict[str, Any]] = {
    "s3_public_access": {
        "policy_name": "AWS S3 buckets are accessible to public", "resource_id": "payroll-exports",
        "resource_type": "aws-s3api-get-bucket-acl", "config": {"bucketName": "payroll-exports"}},
    "security_group_ingress": {
        "policy_name": "AWS Security Group allows all traffic on SSH port (22)", "resource_id": "sg-0a1b2c3d4e5f60718",
        "resource_type": "aws-ec2-describe-security-groups",
        "config": {"groupId": "sg-0a1b2c3d4e5f60718", "ipPermissions": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
             "ipv6Ranges": []},
            {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}]}]}},
    "iam_policy_attachment": {
        "policy_name": "AWS IAM role with AdministratorAccess policy attached",
        "resource_id": f"arn:aws:iam::{ACCOUNT}:role/reporting-lambda", "resource_type": "aws-iam-list-roles",
        "region": "global", "config": {"roleName": "reporting-lambda", "attachedPolicies": [
            {"policyName": "AdministratorAccess", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            {"policyName": "reporting-read", "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/reporting-read"}]}},
    "ebs_default_encryption": {
        "policy_name": "AWS EBS volume region with encryption is disabled", "resource_id": f"{ACCOUNT}-eu-west-1",
        "resource_type": "aws-ec2-ebs-encryption", "config": {"ebsEncryptionByDefault": False}},
    "cloudtrail_disabled": {
        "policy_name": "AWS CloudTrail is not enabled with multi trail and not capturing all management events",
        "resource_id": ACCOUNT, "resource_type": "account-agg-entity", "region": "global", "config": {}},
    "azure_storage_public_access": {
        "policy_name": "Azure Storage account has blob container with public access",
        "resource_id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.Storage/"
                       "storageAccounts/payrollexports",
        "resource_type": "azure-storage-account-list", "cloud": Cloud.AZURE, "account_id": SUBSCRIPTION,
        "region": "westeurope", "config": {}},
    "gcp_storage_public_access": {
        "policy_name": "GCP Storage buckets are publicly accessible to all users", "resource_id": "analytics-exports",
        "resource_type": "gcloud-storage-buckets-list", "cloud": Cloud.GCP, "account_id": "analytics-prod-123456",
        "region": "us-central1", "config": {}},
}


def family_alert(family: str, *, environment: Environment = Environment.PROD, **changes: Any) -> ScoredAlert:
    """A scored alert of ``family`` (see :data:`FAMILY_ALERTS`) in ``environment``; ``changes`` override alert
    or resource fields.

    Resource fields: ``resource_id``, ``name``, ``resource_type``, ``region``, ``tags``, ``account_id``, ``cloud``;
    ``config`` replaces the resource configuration; anything else is an :class:`Alert` field.
    """
    spec = {**FAMILY_ALERTS[family], **changes}
    resource_fields = {k: spec.pop(k) for k in ("resource_id", "name", "resource_type", "region", "tags",
                                                "account_id", "cloud") if k in spec}
    resource_fields.setdefault("name", resource_fields["resource_id"])
    resource_fields.setdefault("region", "eu-west-1")
    resource = make_resource_ref(asset_id=f"aws:{ACCOUNT}:eu-west-1:{family}:{resource_fields['resource_id']}",
                                 **resource_fields)
    config = spec.pop("config")
    enrichment = make_enrichment(resource_config_json=json.dumps(config), environment=environment)
    alert: Alert = make_alert(resource=resource, enrichment=enrichment, policy_id=f"test-{family}",
                              vulnerabilities=[], **spec)
    return make_scored_alert(alert=alert)


@pytest.fixture
def make_family_alert() -> Callable[..., ScoredAlert]:
    return family_alert
