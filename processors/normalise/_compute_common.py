"""Pieces every Compute normaliser shares: the record builder, resources, labels, CVEs, severities.

The API normalisers (:mod:`.compute`, :mod:`.compute_scans`) and the webhook normalisers
(:mod:`.compute_webhook`, :mod:`.compute_webhook_kinds`) build their alerts here, so an API record
and a webhook body about the same image or host agree on alert id, asset id and content hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from processors.models import (
    Alert,
    AlertSource,
    AlertStatus,
    Cloud,
    Module,
    ResourceRef,
    Severity,
    Vulnerability,
)
from processors.normalise._fields import content_hash, known_severity, max_severity, opt_str
from processors.normalise.asset import canonical_asset_id
from processors.normalise.compute_types import DEFAULT_SEVERITY, Category, default_severity_note

__all__ = [
    "Normalised",
    "Origin",
    "cvss_of",
    "digest",
    "first_str",
    "fixed_version",
    "host_resource",
    "image_resource",
    "labels_of",
    "make_alert",
    "resolve_severity",
    "severity_from_cvss",
    "with_note",
]

Normalised = tuple[Alert, Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: the RawAlert's source and when it was received (first/last seen
    fall back to it when the payload has no date)."""

    source: AlertSource
    received_at: datetime


def digest(*parts: str) -> str:
    """A short stable hash of ``parts``, for ids of findings that Compute gives no id."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def labels_of(value: Any) -> dict[str, str]:
    """Compute labels come as a map (incidents, webhooks) or as ``key:value`` strings (scans)."""
    out: dict[str, str] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool):
                out[k] = str(v)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str) and ":" in item:
                k, v = item.split(":", 1)
                out[k] = v
    return out


def fixed_version(status: str) -> str:
    """``fixed in 1.2`` (API) and ``Fixed in: 1.2`` (webhook) give ``1.2``; anything else ``""``."""
    lowered = status.lower()
    for prefix in ("fixed in: ", "fixed in "):
        if lowered.startswith(prefix):
            return status[len(prefix):].strip()
    return ""


def cvss_of(value: Any) -> float | None:
    """A CVSS score when ``value`` is a number between 0 and 10, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 10:
        return float(value)
    return None


def severity_from_cvss(cvss: float | None) -> Severity | None:
    """The severity band of a CVSS score (≥9 critical, ≥7 high, ≥4 medium, >0 low), None without one."""
    if cvss is None:
        return None
    if cvss >= 9.0:
        return Severity.CRITICAL
    if cvss >= 7.0:
        return Severity.HIGH
    if cvss >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if cvss > 0 else Severity.INFORMATIONAL


def resolve_severity(stated: Iterable[Any], category: Category) -> tuple[Severity, str]:
    """The worst known severity among ``stated`` (words or :class:`Severity`), else the category default.

    Returns the severity and the note to add to the description ("" when Prisma stated one).
    """
    known = [s if isinstance(s, Severity) else known_severity(s) for s in stated]
    found = [s for s in known if s is not None]
    if found:
        return max_severity(found, Severity.INFORMATIONAL), ""
    return DEFAULT_SEVERITY[category], default_severity_note(category)


def host_resource(
    cloud: Cloud, account: str, region: str, instance_id: str, hostname: str, tags: dict[str, str]
) -> ResourceRef:
    """A workload's asset is its host: the instance when Compute knows its id, else the hostname."""
    if instance_id:
        asset = canonical_asset_id(cloud, account, region, instance_id, "instance")
        rid, rtype = instance_id, "instance"
    else:
        asset = canonical_asset_id(cloud, account, region, hostname, "host")
        rid, rtype = hostname, "host"
    return ResourceRef(
        asset_id=asset, resource_id=rid, name=hostname, resource_type=rtype, cloud=cloud,
        account_id=account, region=region, tags=tags,
    )


def image_resource(
    cloud: Cloud, account: str, region: str, image_id: str, name: str, tags: dict[str, str]
) -> ResourceRef:
    """An image is its own asset, the same wherever it runs (``other::global:image/<id>``)."""
    return ResourceRef(
        asset_id=canonical_asset_id(Cloud.OTHER, "", "", image_id, "image"),
        resource_id=image_id, name=name, resource_type="image", cloud=cloud,
        account_id=account, region=region, tags=tags,
    )


def make_alert(
    origin: Origin,
    *,
    alert_id: str,
    policy_id: str,
    policy_name: str,
    policy_type: str,
    severity: Severity,
    status: AlertStatus,
    status_reason: str,
    description: str,
    resource: ResourceRef,
    vulns: list[Vulnerability],
    first_seen: datetime | None,
    last_seen: datetime | None,
    data: Mapping[str, Any] | None,
    hash_extra: Iterable[str] = (),
) -> Normalised:
    """Build the CWPP :class:`Alert`; a missing first/last seen falls back to the other, then to receipt."""
    first = first_seen or last_seen or origin.received_at
    last = last_seen or first
    if last < first:
        last = first
    alert = Alert(
        alert_id=alert_id,
        source=origin.source,
        module=Module.CWPP,
        policy_id=policy_id,
        policy_name=policy_name,
        policy_type=policy_type,
        severity=severity,
        status=status,
        status_reason=status_reason,
        description=description,
        resource=resource,
        vulnerabilities=vulns,
        first_seen=first,
        last_seen=last,
        status_changed_at=last if status is not AlertStatus.OPEN else None,
        ingested_at=origin.received_at,
        content_hash=content_hash(
            status, severity, policy_id, resource.asset_id, resource.resource_id, vulns, hash_extra
        ),
    )
    return alert, data


def with_note(text: str, note: str) -> str:
    """``text`` followed by ``note`` (either may be empty)."""
    return f"{text} {note}".strip() if note else text.strip()


def first_str(obj: Mapping[str, Any], *keys: str) -> str:
    """The first of ``keys`` that holds a non-blank string (or number) in ``obj``, else ``""``."""
    for key in keys:
        value = opt_str(obj, key).strip()
        if value:
            return value
    return ""
