"""CIEM: a least-privilege policy for a role, from what its policies grant and what it really used.

A CIEM alert (policy type ``iam``, ids ``I-...``) says an identity is over-permissive; the alert
itself carries only the identity (see ``tests/data/real/chronicle-content-hub/
prisma_verify_alert_I-226467.json``). What it was granted and what it used come from Prisma's IAM
permission search (``POST /api/v1/permission``, schema ``PermissionDto`` in pan.dev's
``IAMMicroService.json``): one record per identity, effective action and destination, with the
policy that grants it (``grantedByCloudPolicy*``) and when it was last used (``lastAccessDate``,
empty when never).

:func:`reduce_to_used` keeps the actions used within the look-back window, each on the resources
it was used on (``*`` only where the destination is a wildcard or has no ARN), and says which
granted actions it drops. :func:`least_privilege_reasons` checks the result: our own rules (no
``*`` action, no ``NotAction``, no ``iam:PassRole`` on every role) plus an IAM policy linter
(parliament, through :class:`~processors.remediation.ports.IamPolicyLinter`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from processors.remediation.planner import hcl_string, resource_name
from processors.remediation.plan import canonical_json
from processors.remediation.ports import IamPolicyLinter

__all__ = ["PermissionRecord", "ReducedPolicy", "least_privilege_reasons", "reduce_to_used"]

_S3_OBJECT_ACTION = re.compile(r"^s3:(Get|Put|Delete|Restore)Object|^s3:(AbortMultipartUpload|ListMultipartUploadParts)$")


class PermissionRecord(BaseModel):
    """The fields of one Prisma IAM permission record (``PermissionDto``) that the reduction uses."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    source_resource_id: str = Field(alias="sourceResourceId")
    source_resource_name: str = Field(default="", alias="sourceResourceName")
    effective_action_name: str = Field(alias="effectiveActionName")
    dest_resource_id: str = Field(default="", alias="destResourceId")
    wildcard_destination: bool = Field(default=False, alias="isWildCardDestCloudResourceName")
    granted_by_entity_id: str = Field(default="", alias="grantedByCloudEntityId")
    granted_by_entity_type: str = Field(default="", alias="grantedByCloudEntityType")
    granted_by_policy_id: str = Field(default="", alias="grantedByCloudPolicyId")
    granted_by_policy_name: str = Field(default="", alias="grantedByCloudPolicyName")
    granted_by_policy_type: str = Field(default="", alias="grantedByCloudPolicyType")
    last_access: datetime | None = Field(default=None, alias="lastAccessDate")

    @field_validator("last_access", mode="before")
    @classmethod
    def _never_used_is_none(cls, value: Any) -> Any:
        # Prisma leaves lastAccessDate empty (or null) for an action the identity never used.
        if value in (None, "", 0):
            return None
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        return value


class ReducedPolicy(BaseModel):
    """The least-privilege policy for one role, and what it leaves out."""

    model_config = ConfigDict(frozen=True)

    role_arn: str
    document: dict[str, Any]
    kept_actions: tuple[str, ...]
    dropped_actions: tuple[str, ...]
    replaced_policies: tuple[str, ...] = Field(description="Policies (ids/ARNs) whose grants the document replaces")

    def terraform(self) -> str:
        """The document as an ``aws_iam_role_policy`` for review in the owner's Terraform."""
        role = resource_name(self.role_arn)
        return (
            'resource "aws_iam_role_policy" "least_privilege" {\n'
            f"  name   = {hcl_string(role + '-least-privilege')}\n"
            f"  role   = {hcl_string(role)}\n"
            f"  policy = {hcl_string(canonical_json(self.document))}\n"
            "}\n"
        )


def _resource(record: PermissionRecord) -> str:
    if record.wildcard_destination or not record.dest_resource_id.startswith("arn:"):
        return "*"
    arn = record.dest_resource_id
    # Prisma names the bucket as the destination of object actions; IAM wants the objects' ARN.
    if (arn.startswith("arn:aws:s3:::") and "/" not in arn
            and _S3_OBJECT_ACTION.match(record.effective_action_name)):
        return arn + "/*"
    return arn


def reduce_to_used(records: Iterable[PermissionRecord], role_arn: str, *, as_of: datetime,
                   lookback_days: int = 90, source_id: str | None = None) -> ReducedPolicy:
    """The policy that grants ``role_arn`` only what it used in the ``lookback_days`` before ``as_of``.

    ``as_of`` is the record time (the alert's ``last_seen``), not the wall clock, so the same input
    always reduces to the same policy. ``source_id`` is the identity the records are about when it
    is not the role itself (an EC2 instance, which holds the role through its instance profile).
    Raises ValueError when the role used nothing: the fix then is to remove its policies, which is
    not a reduction.
    """
    since = as_of - timedelta(days=lookback_days)
    mine = [r for r in records if r.source_resource_id == (source_id or role_arn)]
    used = [r for r in mine if r.last_access is not None and since <= r.last_access <= as_of]
    if not used:
        raise ValueError(f"{source_id or role_arn} used none of its permissions in the last {lookback_days} days")
    actions_by_resource: dict[str, set[str]] = defaultdict(set)
    for record in used:
        actions_by_resource[_resource(record)].add(record.effective_action_name)
    # One statement per distinct set of actions, listing the resources it was used on.
    resources_by_actions: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for resource, actions in sorted(actions_by_resource.items()):
        resources_by_actions[tuple(sorted(actions))].append(resource)
    statements = [
        {"Sid": f"UsedWithin{lookback_days}Days{i + 1}", "Effect": "Allow", "Action": list(actions),
         "Resource": resources[0] if len(resources) == 1 else resources}
        for i, (actions, resources) in enumerate(sorted(resources_by_actions.items()))
    ]
    kept = sorted({r.effective_action_name for r in used})
    dropped = sorted({r.effective_action_name for r in mine} - set(kept))
    policies = sorted({r.granted_by_policy_id or r.granted_by_policy_name for r in mine} - {""})
    return ReducedPolicy(role_arn=role_arn, document={"Version": "2012-10-17", "Statement": statements},
                         kept_actions=tuple(kept), dropped_actions=tuple(dropped), replaced_policies=tuple(policies))


def least_privilege_reasons(document: Mapping[str, Any], linter: IamPolicyLinter) -> tuple[str, ...]:
    """Every reason ``document`` is not an acceptable least-privilege policy; empty when it is."""
    reasons: list[str] = []
    statements = document.get("Statement", [])
    for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
        if not isinstance(statement, Mapping):
            reasons.append(f"statement {index + 1} is not an object")
            continue
        if "NotAction" in statement or "NotResource" in statement:
            reasons.append(f"statement {index + 1} uses NotAction/NotResource, which grants by exclusion")
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else list(resources)
        if statement.get("Effect") == "Allow":
            for action in actions:
                if action == "*" or str(action).endswith(":*"):
                    reasons.append(f"statement {index + 1} allows every action ({action})")
            if "iam:PassRole" in actions and "*" in resources:
                reasons.append(f"statement {index + 1} allows iam:PassRole on every role")
    reasons += [f"linter: {finding}" for finding in linter.findings(document)]
    return tuple(reasons)
