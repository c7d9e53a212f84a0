"""Normaliser for Prisma Cloud Compute webhook bodies (default template, reference §7.3).

Shares the record builder and helpers of :mod:`processors.normalise.compute`, so a webhook and an
API record about the same image or host agree on alert id, asset id and content hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import (
    AlertStatus,
    Cloud,
    RawAlert,
    ResourceRef,
    Severity,
    Vulnerability,
)
from processors.normalise._fields import (
    STAGE,
    max_severity,
    opt_str,
    req_str,
    severity_of,
    to_datetime,
)
from processors.normalise.asset import canonical_asset_id, cloud_of
from processors.normalise.compute import (
    Normalised,
    _digest,
    _fixed_version,
    _host_resource,
    _labels,
    _make,
)

__all__ = ["normalise_compute_webhook", "split_compute_webhook", "compute_webhook_alert_id"]


def split_compute_webhook(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Split a Compute webhook body into one body per finding, for the webhook receiver.

    A vulnerability alert may list several images or hosts in ``vulnerabilities``; each element
    becomes its own body (the other macros copied), so each image or host is one RawAlert.
    Any other body is returned as a one-element list.
    """
    vulns = body.get("vulnerabilities")
    if isinstance(vulns, list) and len(vulns) > 1:
        return [{**body, "vulnerabilities": [v]} for v in vulns]
    return [dict(body)]


def compute_webhook_alert_id(body: Mapping[str, Any]) -> str:
    """The alert id :func:`normalise_compute_webhook` gives this (already split) body.

    The webhook receiver keys raw alerts with it, so Prisma's retry of the same event, and the API
    scan of the same image or host, land on the same key. Raises InvalidRecordError like the
    normaliser for a body without the identifying fields.
    """
    entries = body.get("vulnerabilities")
    if isinstance(entries, list) and entries:
        entry = entries[0]
        if not isinstance(entry, Mapping):
            raise InvalidRecordError("vulnerabilities[0] is not an object", stage=STAGE)
        image_id = opt_str(entry, "imageID")
        if image_id:
            return f"cwpp:image-vulns:{image_id}"
        return f"cwpp:host-vulns:{req_str(entry, 'hostname', 'vulnerabilities[0]')}"
    host = opt_str(body, "host")
    if not host:
        raise InvalidRecordError("compute_webhook body has neither host nor vulnerabilities", stage=STAGE)
    return _runtime_event_id(body, host)


def _runtime_event_id(payload: Mapping[str, Any], host: str) -> str:
    wtype = opt_str(payload, "type")
    category = opt_str(payload, "category") or wtype.replace(" ", "")
    return "cwpp:webhook:" + _digest(
        wtype, opt_str(payload, "time"), host, opt_str(payload, "containerID"),
        opt_str(payload, "rule"), category, opt_str(payload, "message"),
    )


def _webhook_vulns(entry: Mapping[str, Any]) -> tuple[list[Vulnerability], list[Severity]]:
    vulns: list[Vulnerability] = []
    sevs: list[Severity] = []
    groups = entry.get("newVulnerabilities")
    if not isinstance(groups, list):
        return vulns, sevs
    for g, group in enumerate(groups):
        if not isinstance(group, Mapping):
            continue
        items = group.get("vulnerabilities")
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, Mapping) or not opt_str(item, "cve"):
                continue
            sev = item.get("severity") or group.get("severity")
            sevs.append(severity_of(sev, f"vulnerabilities[0].newVulnerabilities[{g}].vulnerabilities[{i}].severity", Severity.MEDIUM))
            vulns.append(
                Vulnerability(
                    cve=opt_str(item, "cve"),
                    package=opt_str(item, "sourcePackage") or opt_str(item, "packages"),
                    installed_version=opt_str(item, "packageVersion"),
                    fixed_version=_fixed_version(opt_str(item, "status")),
                )
            )
    return vulns, sevs


def normalise_compute_webhook(raw: RawAlert, payload: Any) -> Normalised:
    """Normalise one Compute webhook body rendered from the default template (reference §7.3).

    Vulnerability bodies (``vulnerabilities`` non-empty) must hold one image or host (see
    :func:`split_compute_webhook`) and get the same alert id as the API scan of that image or
    host. Every other body is a runtime-style event with an id derived from its content.
    """
    if not isinstance(payload, Mapping):
        raise InvalidRecordError("compute_webhook payload must be a JSON object", stage=STAGE)
    wtype = req_str(payload, "type", "")
    when = to_datetime(payload.get("time"), "time")
    cloud = cloud_of(opt_str(payload, "provider"))
    account, region = opt_str(payload, "accountID"), opt_str(payload, "region")
    tags = _labels(payload.get("labels"))
    entries = payload.get("vulnerabilities")
    if isinstance(entries, list) and entries:
        if len(entries) > 1:
            raise InvalidRecordError(
                f"compute_webhook body lists {len(entries)} images/hosts; split it with split_compute_webhook",
                stage=STAGE,
            )
        entry = entries[0]
        if not isinstance(entry, Mapping):
            raise InvalidRecordError("vulnerabilities[0] is not an object", stage=STAGE)
        vulns, sevs = _webhook_vulns(entry)
        image_id = opt_str(entry, "imageID")
        tags.update(_labels(entry.get("labels")))
        if image_id:
            name = opt_str(entry, "imageName")
            resource = ResourceRef(
                asset_id=canonical_asset_id(Cloud.OTHER, "", "", image_id, "image"),
                resource_id=image_id, name=name, resource_type="image", cloud=cloud,
                account_id=account, region=region, tags=tags,
            )
            alert_id, ptype = f"cwpp:image-vulns:{image_id}", "image"
        else:
            hostname = req_str(entry, "hostname", "vulnerabilities[0]")
            resource = _host_resource(cloud, account, region, "", hostname, tags)
            alert_id, ptype = f"cwpp:host-vulns:{hostname}", "host"
        return _make(
            raw, alert_id=alert_id, policy_id=f"compute:vulnerabilities:{ptype}",
            policy_name=f"Compute {ptype} vulnerabilities", policy_type="workload_vulnerability",
            severity=max_severity(sevs, Severity.INFORMATIONAL), status=AlertStatus.OPEN,
            status_reason="NEW_VULNERABILITIES", description=f"{len(vulns)} new vulnerabilities on {resource.name}",
            resource=resource, vulns=vulns, first_seen=when, last_seen=when, data=None,
        )
    host = opt_str(payload, "host")
    if not host:
        raise InvalidRecordError("compute_webhook body has neither host nor vulnerabilities", stage=STAGE)
    resource = _host_resource(cloud, account, region, "", host, tags)
    aggregated = payload.get("aggregatedAlerts")
    agg = [a for a in aggregated if isinstance(a, Mapping)] if isinstance(aggregated, list) else []
    sevs = [severity_of(a.get("severity"), "aggregatedAlerts[].severity", Severity.MEDIUM) for a in agg]
    issues = payload.get("complianceIssues")
    if isinstance(issues, list):
        sevs.extend(
            severity_of(i.get("severity"), "complianceIssues[].severity", Severity.MEDIUM)
            for i in issues if isinstance(i, Mapping)
        )
    category = opt_str(payload, "category") or wtype.replace(" ", "")
    message = opt_str(payload, "message")
    alert_id = _runtime_event_id(payload, host)
    container = opt_str(payload, "container")
    return _make(
        raw, alert_id=alert_id, policy_id=f"compute:runtime:{category}",
        policy_name=opt_str(payload, "rule") or f"Compute {wtype}", policy_type="runtime",
        severity=max_severity(sevs, Severity.MEDIUM), status=AlertStatus.OPEN,
        status_reason="", description=(message + (f" in container {container}" if container else "")).strip(),
        resource=resource, vulns=[], first_seen=when, last_seen=when, data=None,
    )
