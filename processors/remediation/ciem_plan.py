"""CIEM least privilege as a remediation plan: a role's grants replaced by what it used.

For an alert of the ``iam_least_privilege`` family (a CIEM policy, type ``iam``, on an AWS role or
on an EC2 instance that holds a role through its instance profile) the remediation-request stage
first asks Prisma's IAM permission search for the records of :func:`permission_identity` (the
alert's own resource), through :class:`~processors.remediation.ports.PermissionSearch`. Then
:func:`plan_least_privilege`, pure, turns them into a plan:

1. ``iam PutRolePolicy`` on the role: an inline policy of the actions used in the look-back window,
   each on the resources it was used on (:func:`~processors.remediation.least_privilege.reduce_to_used`);
2. ``iam DetachRolePolicy`` of each managed policy whose grants the inline policy replaces, after it,
   so the role never loses a permission it uses in between;
3. the same inline policy as Terraform ``aws_iam_role_policy``, for the owner's module.

Which role: the alert's resource when it is a role ARN; else the role ARN in the instance's
configuration (``iamInstanceProfile.arn``); else the one role the records say grants the
instance's permissions. All three are Prisma's structured data; the alert's name, tags and
description never pick the role, the actions or the policy. Validation then checks the plan like
any other, and lints the policy document (:func:`~processors.remediation.least_privilege.least_privilege_reasons`,
parliament) before anyone is asked: a document that fails is refused with the reasons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from processors.models import Alert, Cloud, ScoredAlert
from processors.remediation.families import Family, FamilyCatalog
from processors.remediation.least_privilege import PermissionRecord, reduce_to_used
from processors.remediation.plan import ActionKind, PlannedAction, canonical_json
from processors.remediation.planner import PlannerSettings, PlanOutcome, build_plan, resource_name

__all__ = ["LEAST_PRIVILEGE_FAMILY", "least_privilege_policy_name", "permission_identity", "plan_least_privilege"]

LEAST_PRIVILEGE_FAMILY = "iam_least_privilege"

_ROLE_ARN = re.compile(r"arn:aws:iam::(?P<account>\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
_MANAGED_POLICY = re.compile(r"arn:aws:iam::(?:aws|\d{12}):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}")
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")


def permission_identity(scored: ScoredAlert, families: FamilyCatalog) -> str | None:
    """The identity whose permission records the plan needs (the alert's own resource, a role ARN or an
    EC2 instance id), or None when the alert is not for the least-privilege path."""
    alert = scored.alert
    family = families.classify(alert)
    if family is None or family.name != LEAST_PRIVILEGE_FAMILY or alert.resource.cloud is not Cloud.AWS:
        return None
    resource_id = alert.resource.resource_id
    return resource_id if _ROLE_ARN.fullmatch(resource_id) or _INSTANCE_ID.fullmatch(resource_id) else None


def least_privilege_policy_name(role_arn: str) -> str:
    """The inline policy's name on the role (the Terraform rendering uses the same)."""
    return resource_name(role_arn) + "-least-privilege"


def _configured_role(alert: Alert) -> str | None:
    try:
        config: Any = json.loads(alert.enrichment.resource_config_json or "{}")
    except ValueError:
        return None
    profile = config.get("iamInstanceProfile") if isinstance(config, Mapping) else None
    arn = profile.get("arn") if isinstance(profile, Mapping) else None
    return arn if isinstance(arn, str) and _ROLE_ARN.fullmatch(arn) else None


def _role_of(alert: Alert, records: Sequence[PermissionRecord]) -> str | None:
    resource_id = alert.resource.resource_id
    if _ROLE_ARN.fullmatch(resource_id):
        return resource_id
    configured = _configured_role(alert)
    if configured is not None:
        return configured
    granting = {r.granted_by_entity_id for r in records
                if r.source_resource_id == resource_id and r.granted_by_entity_type.lower() == "role"}
    only = granting.pop() if len(granting) == 1 else ""
    return only if _ROLE_ARN.fullmatch(only) else None


def _iam(role: str, operation: str, parameters: dict[str, Any], description: str) -> PlannedAction:
    return PlannedAction(kind=ActionKind.AWS_API, description=description, target_resource=role, region="",
                         service="iam", operation=operation, parameters=parameters)


def plan_least_privilege(alert: Alert, family: Family, records: Sequence[PermissionRecord] | None,
                         settings: PlannerSettings | None = None) -> PlanOutcome:
    """The least-privilege plan for ``alert`` from its identity's permission records, or why there is none.

    ``records`` None means nobody asked the permission search (no port configured, or it failed).
    The reduction looks back ``least_privilege_lookback_days`` from the alert's ``last_seen``.
    """
    settings = settings or PlannerSettings()
    if records is None:
        return PlanOutcome(None, family.name, "no permission records: the IAM permission search was not available")
    role = _role_of(alert, records)
    if role is None:
        return PlanOutcome(None, family.name, "neither the resource nor its configuration or permission records "
                                              "name exactly one IAM role")
    match = _ROLE_ARN.fullmatch(role)
    assert match is not None
    if alert.resource.account_id and match["account"] != alert.resource.account_id:
        return PlanOutcome(None, family.name, f"role {role} is not in the alert's account {alert.resource.account_id}")
    source = alert.resource.resource_id
    mine = [r for r in records if r.source_resource_id == source and r.granted_by_entity_id in ("", role)]
    days = settings.least_privilege_lookback_days
    try:
        reduced = reduce_to_used(mine, role, as_of=alert.last_seen, lookback_days=days, source_id=source)
    except ValueError as exc:
        return PlanOutcome(None, family.name, str(exc))
    name = resource_name(role)
    managed = [p for p in reduced.replaced_policies if _MANAGED_POLICY.fullmatch(p)]
    actions = [_iam(role, "PutRolePolicy", {"RoleName": name, "PolicyName": least_privilege_policy_name(role),
                                            "PolicyDocument": canonical_json(reduced.document)},
                    f"Put an inline policy of the {len(reduced.kept_actions)} actions used in the last {days} days")]
    actions += [_iam(role, "DetachRolePolicy", {"RoleName": name, "PolicyArn": arn},
                     f"Detach {arn.rsplit('/', 1)[-1]}, which the inline policy replaces") for arn in managed]
    actions.append(PlannedAction(kind=ActionKind.TERRAFORM, target_resource=role, terraform=reduced.terraform(),
                                 description="The same inline policy in Terraform, for the owning module"))
    others = sorted(set(reduced.replaced_policies) - set(managed))
    summary = (f"Least privilege for role {name}: keep the {len(reduced.kept_actions)} actions it used in the "
               f"last {days} days, drop {len(reduced.dropped_actions)} it did not use"
               + (f"; {len(others)} inline polic{'y' if len(others) == 1 else 'ies'} left for review" if others else ""))
    return PlanOutcome(build_plan(alert, family, actions, summary=summary, resource_id=role), family.name)
