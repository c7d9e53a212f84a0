"""The deterministic planner: the remediation plan for a scored alert of one of the policy families.

Called with a scored alert and the families file; returns a :class:`PlanOutcome`: a plan, or no
plan and the reason. The same alert always yields the same plan (same actions, same ``plan_id``),
so a replay proposes exactly what was proposed before. The plan is built from Prisma's structured
fields (policy id and name, resource id, type, region, account, resource configuration), never
from free text; whether what it built is acceptable is for :mod:`processors.remediation.validate`
to say, which checks every plan the same way, wherever it came from.

Families and what their plans do:

* ``s3_public_access``        s3 PutPublicAccessBlock (all four settings on), Terraform
                              ``aws_s3_bucket_public_access_block``
* ``security_group_ingress``  ec2 RevokeSecurityGroupIngress for each rule open to 0.0.0.0/0 or ::/0
                              in the resource configuration (else the port the policy names)
* ``iam_policy_attachment``   iam DetachRolePolicy / DetachUserPolicy of the over-permissive
                              managed policies attached (from the configuration, else AdministratorAccess)
* ``ebs_default_encryption``  ec2 EnableEbsEncryptionByDefault in the alert's region, Terraform
                              ``aws_ebs_encryption_by_default``
* ``cloudtrail_disabled``     cloudtrail StartLogging for a trail; for an account without one,
                              CreateTrail (multi-region, log file validation) then StartLogging
* ``azure_storage_public_access``  ``az storage account update --allow-blob-public-access false``
                              (run by the configured runner), Terraform ``azurerm_storage_account``
* ``gcp_storage_public_access``    ``gcloud storage buckets update --public-access-prevention``,
                              Terraform ``google_storage_bucket``
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from processors.models import Alert, ScoredAlert
from processors.remediation.families import Family, FamilyCatalog
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan, canonical_json

__all__ = ["PlanOutcome", "PlannerSettings", "hcl_string", "plan_for_alert", "resource_name"]


class PlannerSettings(BaseModel):
    """Choices the planner cannot take from the alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trail_name: str = "prismaflow-account-trail"
    trail_bucket: str = "aws-cloudtrail-logs-{account_id}"
    home_region: str = "us-east-1"
    least_privilege_lookback_days: int = 90
    over_permissive_policies: tuple[str, ...] = (
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/IAMFullAccess",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    )


@dataclass(frozen=True)
class PlanOutcome:
    """A plan, or None and why none could be made; ``family`` is the policy family, when one matched."""

    plan: RemediationPlan | None
    family: str = ""
    reason: str = ""


class _NoPlan(Exception):
    """Raised by a family builder when the alert lacks what its plan needs."""


def plan_for_alert(scored: ScoredAlert, families: FamilyCatalog,
                   settings: PlannerSettings | None = None) -> PlanOutcome:
    """The plan for ``scored``'s alert, or why there is none."""
    settings = settings or PlannerSettings()
    alert = scored.alert
    family = families.classify(alert)
    if family is None:
        return PlanOutcome(None, reason=f"no remediation family covers policy {alert.policy_id or alert.policy_name!r}")
    builder = _BUILDERS.get(family.name)
    if builder is None:
        return PlanOutcome(None, family.name, f"family {family.name} has no deterministic plan")
    try:
        actions = builder(alert, settings)
    except _NoPlan as exc:
        return PlanOutcome(None, family.name, str(exc))
    return PlanOutcome(build_plan(alert, family, actions, summary=_SUMMARIES[family.name]), family.name)


def build_plan(alert: Alert, family: Family, actions: list[PlannedAction], *, summary: str,
               resource_id: str | None = None) -> RemediationPlan:
    """A plan of ``actions`` for ``alert``, its id derived from its content (the same input, the same id).

    ``resource_id`` is what the plan changes when that is not the alert's resource itself but one
    Prisma's structured data ties to it (the IAM role of an instance's CIEM alert)."""
    resource = alert.resource
    target = resource.resource_id if resource_id is None else resource_id
    body = canonical_json({"alert": alert.alert_id, "family": family.name, "resource": target,
                           "actions": [a.model_dump(mode="json") for a in actions]})
    plan_id = "plan-" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]
    return RemediationPlan(
        plan_id=plan_id,
        alert_id=alert.alert_id,
        asset_id=resource.asset_id,
        policy_family=family.name,
        cloud=resource.cloud,
        account_id=resource.account_id,
        region=_region(alert),
        resource_id=target,
        environment=alert.enrichment.environment,
        summary=summary,
        actions=tuple(actions),
        change_risk=family.change_risk,
        touches_iam=family.touches_iam,
    )


def resource_name(resource_id: str) -> str:
    """The name an API takes for a resource given as an ARN or an Azure resource id (its last path
    segment), else the id itself."""
    if resource_id.startswith("arn:"):
        parts = resource_id.split(":", 5)
        if len(parts) == 6:
            return re.split(r"[/:]", parts[5])[-1]
    if resource_id.lower().startswith("/subscriptions/"):
        return resource_id.rstrip("/").rsplit("/", 1)[-1]
    return resource_id


_ARM_ID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
                     r"Microsoft\.Storage/storageAccounts/(?P<name>[^/]+)$", re.IGNORECASE)


def hcl_string(value: str) -> str:
    """``value`` as an HCL string literal: JSON escapes, and template sequences made literal."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def _region(alert: Alert) -> str:
    region = alert.resource.region
    return "" if region in ("", "global") else region


def _action(alert: Alert, service: str, operation: str, parameters: dict[str, Any], description: str,
            *, target: str | None = None, region: str | None = None) -> PlannedAction:
    return PlannedAction(kind=ActionKind.AWS_API, description=description,
                         target_resource=alert.resource.resource_id if target is None else target,
                         region=_region(alert) if region is None else region,
                         service=service, operation=operation, parameters=parameters)


def _terraform(alert: Alert, snippet: str, description: str) -> PlannedAction:
    return PlannedAction(kind=ActionKind.TERRAFORM, description=description,
                         target_resource=alert.resource.resource_id, region=_region(alert), terraform=snippet)


def _config(alert: Alert) -> Mapping[str, Any]:
    try:
        config = json.loads(alert.enrichment.resource_config_json or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, Mapping) else {}


def _field(mapping: Mapping[str, Any], name: str) -> Any:
    """A field in Prisma's camelCase or the AWS API's PascalCase."""
    return mapping.get(name, mapping.get(name[:1].upper() + name[1:]))


def _s3_public_access(alert: Alert, settings: PlannerSettings) -> list[PlannedAction]:
    bucket = resource_name(alert.resource.resource_id)
    return [
        _action(alert, "s3", "PutPublicAccessBlock", {
            "Bucket": bucket,
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                               "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        }, "Block all public access on the bucket"),
        _terraform(alert, (
            'resource "aws_s3_bucket_public_access_block" "this" {\n'
            f"  bucket                  = {hcl_string(bucket)}\n"
            "  block_public_acls       = true\n  ignore_public_acls      = true\n"
            "  block_public_policy     = true\n  restrict_public_buckets = true\n}\n"),
            "The same block in Terraform, for the owning module"),
    ]


_OPEN_V4, _OPEN_V6 = "0.0.0.0/0", "::/0"
_PORT_IN_NAME = re.compile(r"\bport\s*\(?(\d{1,5})\)?", re.IGNORECASE)
_NAMED_PORTS = {"ssh": 22, "rdp": 3389}


def _open_permissions(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each ingress rule of the configuration that is open to the internet, as botocore IpPermissions."""
    result = []
    for rule in _field(config, "ipPermissions") or []:
        if not isinstance(rule, Mapping):
            continue
        v4 = {r if isinstance(r, str) else _field(r, "cidrIp")
              for r in (_field(rule, "ipv4Ranges") or []) + (_field(rule, "ipRanges") or [])
              if isinstance(r, str | Mapping)}
        v6 = {r if isinstance(r, str) else _field(r, "cidrIpv6")
              for r in _field(rule, "ipv6Ranges") or [] if isinstance(r, str | Mapping)}
        if _OPEN_V4 not in v4 and _OPEN_V6 not in v6:
            continue
        permission: dict[str, Any] = {"IpProtocol": str(_field(rule, "ipProtocol") or "-1")}
        for key in ("fromPort", "toPort"):
            if isinstance(_field(rule, key), int):
                permission[key[:1].upper() + key[1:]] = _field(rule, key)
        if _OPEN_V4 in v4:
            permission["IpRanges"] = [{"CidrIp": _OPEN_V4}]
        if _OPEN_V6 in v6:
            permission["Ipv6Ranges"] = [{"CidrIpv6": _OPEN_V6}]
        result.append(permission)
    return result


def _security_group_ingress(alert: Alert, settings: PlannerSettings) -> list[PlannedAction]:
    permissions = _open_permissions(_config(alert))
    if not permissions:
        match = _PORT_IN_NAME.search(alert.policy_name)
        named = next((p for word, p in _NAMED_PORTS.items() if re.search(rf"\b{word}\b", alert.policy_name, re.I)), None)
        port = int(match.group(1)) if match else named
        if port is None:
            raise _NoPlan("no rule open to 0.0.0.0/0 in the resource configuration, and the policy names no port")
        permissions = [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": _OPEN_V4}]}]
    group_id = resource_name(alert.resource.resource_id)
    return [_action(alert, "ec2", "RevokeSecurityGroupIngress", {"GroupId": group_id, "IpPermissions": permissions},
                    "Revoke the ingress rules open to the internet")]


def _iam_policy_attachment(alert: Alert, settings: PlannerSettings) -> list[PlannedAction]:
    resource = alert.resource
    is_user = "user" in resource.resource_type.lower() or ":user/" in resource.resource_id
    attached = _field(_config(alert), "attachedPolicies") or _field(_config(alert), "attachedManagedPolicies") or []
    arns = [str(_field(p, "policyArn")) for p in attached if isinstance(p, Mapping) and _field(p, "policyArn")]
    to_detach = [a for a in arns if a in settings.over_permissive_policies]
    if not to_detach:
        if arns or not re.search(r"administrator", alert.policy_name, re.IGNORECASE):
            raise _NoPlan("no over-permissive managed policy is attached according to the resource configuration")
        to_detach = [settings.over_permissive_policies[0]]
    principal = resource_name(resource.resource_id)
    operation, member = ("DetachUserPolicy", "UserName") if is_user else ("DetachRolePolicy", "RoleName")
    return [_action(alert, "iam", operation, {member: principal, "PolicyArn": arn},
                    f"Detach {arn.rsplit('/', 1)[-1]}", region="") for arn in sorted(to_detach)]


def _ebs_default_encryption(alert: Alert, settings: PlannerSettings) -> list[PlannedAction]:
    if not _region(alert):
        raise _NoPlan("EBS encryption by default is set per region, and the alert names none")
    return [
        _action(alert, "ec2", "EnableEbsEncryptionByDefault", {}, "Encrypt new EBS volumes in the region by default"),
        _terraform(alert, 'resource "aws_ebs_encryption_by_default" "this" {\n  enabled = true\n}\n',
                   "The same setting in Terraform"),
    ]


def _cloudtrail_disabled(alert: Alert, settings: PlannerSettings) -> list[PlannedAction]:
    resource = alert.resource
    region = _region(alert) or settings.home_region
    if "trail" in resource.resource_type.lower() or ":trail/" in resource.resource_id:
        return [_action(alert, "cloudtrail", "StartLogging", {"Name": resource.resource_id},
                        "Start logging on the trail", region=region)]
    if not resource.account_id:
        raise _NoPlan("the alert names no account to create a trail in")
    bucket = settings.trail_bucket.format(account_id=resource.account_id)
    name = settings.trail_name
    return [
        _action(alert, "cloudtrail", "CreateTrail", {
            "Name": name, "S3BucketName": bucket, "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True, "EnableLogFileValidation": True,
        }, "Create a multi-region trail with log file validation", region=region),
        _action(alert, "cloudtrail", "StartLogging", {"Name": name}, "Start logging on the new trail",
                target=name, region=region),
        _terraform(alert, (
            'resource "aws_cloudtrail" "this" {\n'
            f"  name                          = {hcl_string(name)}\n"
            f"  s3_bucket_name                = {hcl_string(bucket)}\n"
            "  is_multi_region_trail         = true\n  include_global_service_events = true\n"
            "  enable_log_file_validation    = true\n}\n"), "The same trail in Terraform"),
    ]


def _cli(alert: Alert, kind: ActionKind, argv: tuple[str, ...], description: str) -> PlannedAction:
    return PlannedAction(kind=kind, description=description, target_resource=alert.resource.resource_id,
                         region=_region(alert), argv=argv)


def _azure_storage_public_access(alert: Alert, settings: PlannerSettings) -> list[PlannedAction]:
    match = _ARM_ID.match(alert.resource.resource_id)
    if match is None:
        raise _NoPlan("the resource id is not an Azure storage account id (/subscriptions/.../storageAccounts/...)")
    name, group, subscription = match["name"], match["rg"], match["sub"]
    return [
        _cli(alert, ActionKind.AZURE_CLI, ("storage", "account", "update", "--name", name, "--resource-group", group,
                                           "--subscription", subscription, "--allow-blob-public-access", "false"),
             "Disallow anonymous public access to the account's blobs"),
        _terraform(alert, (
            'resource "azurerm_storage_account" "this" {\n'
            f"  name                            = {hcl_string(name)}\n"
            f"  resource_group_name             = {hcl_string(group)}\n"
            "  allow_nested_items_to_be_public = false\n}\n"), "The same setting in Terraform"),
    ]


def _gcp_storage_public_access(alert: Alert, settings: PlannerSettings) -> list[PlannedAction]:
    bucket = alert.resource.resource_id
    argv: tuple[str, ...] = ("storage", "buckets", "update", f"gs://{bucket}", "--public-access-prevention")
    if alert.resource.account_id:
        argv += ("--project", alert.resource.account_id)
    return [
        _cli(alert, ActionKind.GCLOUD_CLI, argv, "Enforce public access prevention on the bucket"),
        _terraform(alert, (
            'resource "google_storage_bucket" "this" {\n'
            f"  name                     = {hcl_string(bucket)}\n"
            '  public_access_prevention = "enforced"\n}\n'), "The same setting in Terraform"),
    ]


_BUILDERS: dict[str, Callable[[Alert, PlannerSettings], list[PlannedAction]]] = {
    "s3_public_access": _s3_public_access,
    "security_group_ingress": _security_group_ingress,
    "iam_policy_attachment": _iam_policy_attachment,
    "ebs_default_encryption": _ebs_default_encryption,
    "cloudtrail_disabled": _cloudtrail_disabled,
    "azure_storage_public_access": _azure_storage_public_access,
    "gcp_storage_public_access": _gcp_storage_public_access,
}

_SUMMARIES = {
    "s3_public_access": "Block public access on the S3 bucket",
    "security_group_ingress": "Revoke the security group's ingress rules open to the internet",
    "iam_policy_attachment": "Detach over-permissive managed policies from the IAM principal",
    "ebs_default_encryption": "Turn on EBS encryption by default in the region",
    "cloudtrail_disabled": "Turn CloudTrail logging on",
    "azure_storage_public_access": "Disallow anonymous public access to the storage account's blobs",
    "gcp_storage_public_access": "Enforce public access prevention on the Cloud Storage bucket",
}
