"""Normalisers for CSPM alerts: ``/v2/alert`` items and webhook notifications.

Both shapes describe the same Prisma Cloud alert (reference §2.5/2.6 and §7.2); they differ in
field names only. Each reader pulls the fields into :class:`_CspmFields` and one builder makes
the :class:`Alert`, so the two sources cannot drift apart in meaning.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import (
    Alert,
    ComplianceMapping,
    RawAlert,
    ResourceRef,
)
from processors.normalise._fields import (
    STAGE,
    content_hash,
    module_for_policy,
    opt_map,
    opt_str,
    req_map,
    req_str,
    severity_of,
    status_of,
    to_datetime,
)
from processors.normalise.asset import (
    attached_instance,
    canonical_asset_id,
    cloud_of,
    parse_rrn,
)

__all__ = ["normalise_cspm_api", "normalise_cspm_webhook"]

Normalised = tuple[Alert, Mapping[str, Any] | None]


@dataclass(slots=True)
class _CspmFields:
    alert_id: str
    status: Any
    reason: str
    policy_id: str
    policy_name: str
    policy_type: str
    subtypes: list[str]
    severity: Any
    severity_path: str
    description: str
    recommendation: str
    compliance: Any
    resource: Mapping[str, Any]
    resource_id: str
    resource_name: str
    resource_type: str
    cloud_type: str
    account_id: str
    account_name: str
    region_id: str
    tags: dict[str, str]
    account_groups: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    status_changed_at: datetime | None


def _tags(value: Any) -> dict[str, str]:
    """Accept both tag shapes: a map (``resourceTags``) and a list of ``{key, value}`` (webhook ``tags``)."""
    out: dict[str, str] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and v is not None and not isinstance(v, (dict, list)):
                out[k] = str(v)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                k = item.get("key")
                v = item.get("value")
                if isinstance(k, str) and v is not None and not isinstance(v, (dict, list)):
                    out[k] = str(v)
    return out


def _groups(value: Any) -> list[str]:
    """``resource.cloudAccountGroups``: the Prisma account group names (strings; anything else is skipped)."""
    if not isinstance(value, list):
        return []
    return [g for g in value if isinstance(g, str) and g.strip()]


@functools.lru_cache(maxsize=4096)
def _mapping(standard: str, requirement: str, section: str) -> ComplianceMapping:
    # Compliance metadata repeats for every alert of a policy; the frozen value is shared.
    return ComplianceMapping(standard=standard, requirement=requirement, section=section)


def _compliance(value: Any) -> list[ComplianceMapping]:
    out: list[ComplianceMapping] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                standard = opt_str(item, "standardName")
                if standard:
                    requirement = opt_str(item, "requirementId") or opt_str(item, "requirementName")
                    out.append(_mapping(standard, requirement, opt_str(item, "sectionId")))
    return out


def _latest_history(history: Any) -> datetime | None:
    latest: datetime | None = None
    if isinstance(history, list):
        for i, item in enumerate(history):
            if isinstance(item, Mapping):
                ts = to_datetime(item.get("modifiedOn"), f"history[{i}].modifiedOn")
                if ts is not None and (latest is None or ts > latest):
                    latest = ts
    return latest


def _max_time(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _build(raw: RawAlert, f: _CspmFields) -> Normalised:
    status = status_of(f.status, "status")
    severity = severity_of(f.severity, f.severity_path)
    cloud = cloud_of(f.cloud_type)
    rrn = opt_str(f.resource, "rrn")
    parts = parse_rrn(rrn) if rrn else None
    account_id = f.account_id or (parts.account_id if parts else "")
    region = f.region_id or (parts.region if parts else "")
    kind_hint = f.resource_type or (parts.rrn_type if parts else "")
    data = f.resource.get("data")
    data_map: Mapping[str, Any] | None = data if isinstance(data, Mapping) else None
    asset_id = canonical_asset_id(cloud, account_id, region, f.resource_id, kind_hint)
    # An EBS volume or ENI finding belongs to the instance it is attached to (see asset.py).
    kind = asset_id.split(":", 3)[3].split("/", 1)[0]
    instance = attached_instance(kind, data_map)
    if instance is not None:
        asset_id = canonical_asset_id(cloud, account_id, region, instance, "instance")
    first_seen = f.first_seen or f.last_seen or raw.received_at
    last_seen = f.last_seen or first_seen
    policy_type = f.policy_type.lower()
    resource = ResourceRef(
        asset_id=asset_id,
        resource_id=f.resource_id,
        name=f.resource_name,
        resource_type=f.resource_type,
        cloud=cloud,
        account_id=account_id,
        account_name=f.account_name,
        region=region,
        tags=f.tags,
        account_groups=f.account_groups,
    )
    alert = Alert(
        alert_id=f.alert_id,
        source=raw.source,
        module=module_for_policy(policy_type, f.subtypes),
        policy_id=f.policy_id,
        policy_name=f.policy_name or f.policy_id,
        policy_type=policy_type,
        severity=severity,
        status=status,
        status_reason=f.reason,
        description=f.description,
        recommendation=f.recommendation,
        resource=resource,
        compliance=_compliance(f.compliance),
        first_seen=first_seen,
        last_seen=last_seen,
        status_changed_at=f.status_changed_at,
        ingested_at=raw.received_at,
        content_hash=content_hash(status, severity, f.policy_id, asset_id, f.resource_id, ()),
    )
    return alert, data_map


def normalise_cspm_api(raw: RawAlert, payload: Any) -> Normalised:
    """Normalise one ``items[]`` element of ``/v2/alert?detailed=true`` (reference §2.5).

    Required: ``id``, ``status``, ``policy.policyId`` (or top-level ``policyId``),
    ``policy.severity`` (present only with ``detailed=true``, so the poller must ask for it),
    ``resource.id``. Returns the alert and the raw ``resource.data`` for enrichment.
    """
    if not isinstance(payload, Mapping):
        raise InvalidRecordError("cspm_api payload must be a JSON object", stage=STAGE)
    policy = req_map(payload, "policy", "")
    resource = req_map(payload, "resource", "")
    policy_id = opt_str(policy, "policyId") or req_str(payload, "policyId", "")
    subtypes = policy.get("policySubTypes")
    fields = _CspmFields(
        alert_id=req_str(payload, "id", ""),
        status=payload.get("status"),
        reason=opt_str(payload, "reason"),
        policy_id=policy_id,
        policy_name=opt_str(policy, "name"),
        policy_type=opt_str(policy, "policyType"),
        subtypes=subtypes if isinstance(subtypes, list) else [],
        severity=policy.get("severity"),
        severity_path="policy.severity",
        description=opt_str(policy, "description"),
        recommendation=opt_str(policy, "recommendation"),
        compliance=policy.get("complianceMetadata"),
        resource=resource,
        resource_id=req_str(resource, "id", "resource"),
        resource_name=opt_str(resource, "name"),
        resource_type=opt_str(resource, "resourceType"),
        cloud_type=opt_str(resource, "cloudType"),
        account_id=opt_str(resource, "accountId"),
        account_name=opt_str(resource, "account"),
        region_id=opt_str(resource, "regionId"),
        tags=_tags(resource.get("resourceTags")),
        account_groups=_groups(resource.get("cloudAccountGroups")),
        first_seen=to_datetime(payload.get("firstSeen"), "firstSeen")
        or to_datetime(payload.get("alertTime"), "alertTime"),
        last_seen=_max_time(
            to_datetime(payload.get("lastSeen"), "lastSeen"),
            to_datetime(payload.get("lastUpdated"), "lastUpdated"),
            to_datetime(payload.get("alertTime"), "alertTime"),
        ),
        status_changed_at=_latest_history(payload.get("history"))
        or to_datetime(payload.get("lastSeen"), "lastSeen"),
    )
    return _build(raw, fields)


def normalise_cspm_webhook(raw: RawAlert, payload: Any) -> Normalised:
    """Normalise one CSPM webhook notification object (reference §7.2).

    The webhook body is a JSON array; the receiver writes one RawAlert per element, but a
    one-element array is accepted too. Required: ``alertId``, ``alertStatus``, ``policyId``,
    ``severity``, ``resourceId`` (or ``resource.id``).
    """
    if isinstance(payload, list):
        if len(payload) != 1:
            raise InvalidRecordError(
                f"cspm_webhook payload is an array of {len(payload)}; write one RawAlert per element",
                stage=STAGE,
            )
        payload = payload[0]
    if not isinstance(payload, Mapping):
        raise InvalidRecordError("cspm_webhook payload must be a JSON object", stage=STAGE)
    resource = opt_map(payload, "resource")
    resource_id = opt_str(payload, "resourceId") or req_str(resource, "id", "resource")
    tags = _tags(resource.get("resourceTags"))
    tags.update(_tags(payload.get("tags")))
    last_seen = _max_time(
        to_datetime(payload.get("lastSeen"), "lastSeen"),
        to_datetime(payload.get("alertTs"), "alertTs"),
    )
    fields = _CspmFields(
        alert_id=req_str(payload, "alertId", ""),
        status=payload.get("alertStatus"),
        reason=opt_str(payload, "reason"),
        policy_id=req_str(payload, "policyId", ""),
        policy_name=opt_str(payload, "policyName"),
        policy_type=opt_str(payload, "policyType"),
        subtypes=[],
        severity=payload.get("severity"),
        severity_path="severity",
        description=opt_str(payload, "policyDescription"),
        recommendation=opt_str(payload, "policyRecommendation"),
        compliance=payload.get("complianceMetadata"),
        resource=resource,
        resource_id=resource_id,
        resource_name=opt_str(payload, "resourceName") or opt_str(resource, "name"),
        # resource.resourceType is the machine name (STORAGE_BUCKET); the top-level one is a label.
        resource_type=opt_str(resource, "resourceType") or opt_str(payload, "resourceType"),
        cloud_type=opt_str(payload, "cloudType") or opt_str(resource, "cloudType"),
        account_id=opt_str(payload, "accountId") or opt_str(resource, "accountId"),
        account_name=opt_str(payload, "accountName") or opt_str(resource, "account"),
        region_id=opt_str(payload, "resourceRegionId") or opt_str(resource, "regionId"),
        tags=tags,
        account_groups=_groups(resource.get("cloudAccountGroups")),
        first_seen=to_datetime(payload.get("firstSeen"), "firstSeen"),
        last_seen=last_seen,
        status_changed_at=to_datetime(payload.get("lastSeen"), "lastSeen"),
    )
    return _build(raw, fields)
