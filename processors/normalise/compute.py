"""Normalisers for Prisma Cloud Compute (CWPP): API records and webhook bodies.

Compute findings carry no Prisma alert id, so each gets a stable derived id (see
:func:`compute_alert_id`) that the same finding keeps across polls, and that the API and the
webhook agree on for vulnerability findings (``cwpp:image-vulns:<imageID>``,
``cwpp:host-vulns:<hostname>``).

The ``compute_api`` envelope (what the Compute poller writes into ``RawAlert.payload_json``)::

    {"kind": "incident" | "runtime_audit" | "host_scan" | "image_scan",
     "record": { ...one element of the Compute API response array, unchanged... }}

``runtime_audit`` covers every ``/audits/runtime/*`` type (container, host, serverless,
app-embedded); ``host_scan`` is an element of ``/hosts``, ``image_scan`` of ``/images``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import (
    Alert,
    AlertStatus,
    Cloud,
    Module,
    RawAlert,
    ResourceRef,
    Severity,
    Vulnerability,
)
from processors.normalise._fields import (
    STAGE,
    content_hash,
    max_severity,
    opt_map,
    opt_str,
    req_map,
    req_str,
    severity_of,
    to_datetime,
)
from processors.normalise.asset import canonical_asset_id, cloud_of

__all__ = ["COMPUTE_KINDS", "compute_alert_id", "normalise_compute_api"]

COMPUTE_KINDS = frozenset({"incident", "runtime_audit", "host_scan", "image_scan"})
INTERNET_RISK_FACTORS = frozenset({"Reachable from the internet"})

Normalised = tuple[Alert, Mapping[str, Any] | None]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def compute_alert_id(kind: str, record: Mapping[str, Any]) -> str:
    """Return the stable alert id of one Compute API record (the poller uses it as the RawAlert key).

    incident → ``cwpp:incident:<_id>``; runtime_audit → ``cwpp:audit:<_id>``; host_scan →
    ``cwpp:host-vulns:<hostname or _id>``; image_scan → ``cwpp:image-vulns:<_id or id>``.
    Raises InvalidRecordError when the kind is unknown or the record lacks its identifying field.
    """
    if kind == "incident":
        return f"cwpp:incident:{req_str(record, '_id', 'record')}"
    if kind == "runtime_audit":
        return f"cwpp:audit:{req_str(record, '_id', 'record')}"
    if kind == "host_scan":
        host = opt_str(record, "hostname") or req_str(record, "_id", "record")
        return f"cwpp:host-vulns:{host}"
    if kind == "image_scan":
        image = opt_str(record, "_id") or req_str(record, "id", "record")
        return f"cwpp:image-vulns:{image}"
    raise InvalidRecordError(
        f"compute_api kind {kind!r:.40} unknown; expected one of {sorted(COMPUTE_KINDS)}", stage=STAGE
    )


def _labels(value: Any) -> dict[str, str]:
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


def _fixed_version(status: str) -> str:
    return status[len("fixed in "):].strip() if status.lower().startswith("fixed in ") else ""


def _cvss(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 10:
        return float(value)
    return None


def _severity_from_cvss(cvss: float | None) -> Severity:
    if cvss is None:
        return Severity.MEDIUM
    if cvss >= 9.0:
        return Severity.CRITICAL
    if cvss >= 7.0:
        return Severity.HIGH
    if cvss >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if cvss > 0 else Severity.INFORMATIONAL


def _api_vulnerabilities(
    items: Any, path: str, risk: set[str]
) -> tuple[list[Vulnerability], list[Severity]]:
    vulns: list[Vulnerability] = []
    sevs: list[Severity] = []
    seen: set[tuple[str, str, str]] = set()
    if not isinstance(items, list):
        return vulns, sevs
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidRecordError(f"{path}[{i}] is not an object", stage=STAGE)
        cve = opt_str(item, "cve")
        if not cve:
            continue  # compliance-style checks without a CVE are not vulnerabilities
        cvss = _cvss(item.get("cvss"))
        sevs.append(severity_of(item.get("severity"), f"{path}[{i}].severity", _severity_from_cvss(cvss)))
        package = opt_str(item, "packageName")
        version = opt_str(item, "packageVersion")
        if (cve, package, version) in seen:
            continue
        seen.add((cve, package, version))
        factors = item.get("riskFactors")
        if isinstance(factors, Mapping):
            risk.update(k for k in factors if isinstance(k, str))
        vulns.append(
            Vulnerability(
                cve=cve,
                cvss=cvss,
                package=package,
                installed_version=version,
                fixed_version=_fixed_version(opt_str(item, "status")),
            )
        )
    return vulns, sevs


def _make(
    raw: RawAlert,
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
) -> Normalised:
    first = first_seen or last_seen or raw.received_at
    last = last_seen or first
    alert = Alert(
        alert_id=alert_id,
        source=raw.source,
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
        ingested_at=raw.received_at,
        content_hash=content_hash(status, severity, policy_id, resource.asset_id, resource.resource_id, vulns),
    )
    return alert, data


def _host_resource(
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


def _runtime(raw: RawAlert, kind: str, rec: Mapping[str, Any]) -> Normalised:
    hostname = opt_str(rec, "hostname")
    instance_id = opt_str(rec, "resourceID")
    if not hostname and not instance_id:
        raise InvalidRecordError("record.hostname and record.resourceID both missing", stage=STAGE)
    cloud = cloud_of(opt_str(rec, "provider"))
    resource = _host_resource(
        cloud, opt_str(rec, "accountID"), opt_str(rec, "region"), instance_id, hostname, _labels(rec.get("labels"))
    )
    container = opt_str(rec, "containerName") or opt_str(rec, "containerID") or opt_str(rec, "containerId")
    where = f" in container {container}" if container else ""
    when = to_datetime(rec.get("time"), "record.time")
    if kind == "incident":
        audits = rec.get("audits")
        audit_list = [a for a in audits if isinstance(a, Mapping)] if isinstance(audits, list) else []
        sevs = [severity_of(a.get("severity"), "record.audits[].severity", Severity.MEDIUM) for a in audit_list]
        category = req_str(rec, "category", "record")
        msgs = "; ".join(opt_str(a, "msg") for a in audit_list[:5] if opt_str(a, "msg"))
        acknowledged = rec.get("acknowledged") is True
        return _make(
            raw,
            alert_id=compute_alert_id(kind, rec),
            policy_id=f"compute:incident:{category}",
            policy_name=opt_str(rec, "customRuleName") or f"Compute incident: {category}",
            policy_type="workload_incident",
            severity=max_severity(sevs, Severity.HIGH),
            status=AlertStatus.RESOLVED if acknowledged else AlertStatus.OPEN,
            status_reason="ACKNOWLEDGED" if acknowledged else "",
            description=f"{category} incident on {hostname or instance_id}{where}. {msgs}".strip(),
            resource=resource,
            vulns=[],
            first_seen=when,
            last_seen=when,
            data={"incident_category": category},
        )
    attack = opt_str(rec, "attackType") or opt_str(rec, "type") or "runtime"
    return _make(
        raw,
        alert_id=compute_alert_id(kind, rec),
        policy_id=f"compute:runtime:{attack}",
        policy_name=opt_str(rec, "ruleName") or f"Compute runtime: {attack}",
        policy_type="runtime",
        severity=severity_of(rec.get("severity"), "record.severity", Severity.MEDIUM),
        status=AlertStatus.OPEN,
        status_reason=opt_str(rec, "effect"),
        description=(opt_str(rec, "msg") + where).strip(),
        resource=resource,
        vulns=[],
        first_seen=when,
        last_seen=when,
        data=None,
    )


def _scan(raw: RawAlert, kind: str, rec: Mapping[str, Any]) -> Normalised:
    meta = opt_map(rec, "cloudMetadata")
    cloud = cloud_of(opt_str(meta, "provider"))
    account, region = opt_str(meta, "accountID"), opt_str(meta, "region")
    risk: set[str] = set()
    top_factors = rec.get("riskFactors")
    if isinstance(top_factors, Mapping):
        risk.update(k for k in top_factors if isinstance(k, str))
    vulns, sevs = _api_vulnerabilities(rec.get("vulnerabilities"), "record.vulnerabilities", risk)
    tags = _labels(rec.get("labels"))
    if kind == "host_scan":
        hostname = opt_str(rec, "hostname") or req_str(rec, "_id", "record")
        resource = _host_resource(cloud, account, region, opt_str(meta, "resourceID"), hostname, tags)
        target, ptype = f"host {hostname}", "host"
    else:
        image_id = opt_str(rec, "_id") or req_str(rec, "id", "record")
        repo = opt_map(rec, "repoTag")
        name = (
            f"{opt_str(repo, 'registry')}/{opt_str(repo, 'repo')}:{opt_str(repo, 'tag')}".lstrip("/")
            if repo.get("repo")
            else ""
        )
        resource = ResourceRef(
            asset_id=canonical_asset_id(Cloud.OTHER, "", "", image_id, "image"),
            resource_id=image_id, name=name, resource_type="image", cloud=cloud,
            account_id=account, region=region, tags=tags,
        )
        target, ptype = f"image {name or image_id}", "image"
    status = AlertStatus.OPEN if vulns else AlertStatus.RESOLVED
    return _make(
        raw,
        alert_id=compute_alert_id(kind, rec),
        policy_id=f"compute:vulnerabilities:{ptype}",
        policy_name=f"Compute {ptype} vulnerabilities",
        policy_type="workload_vulnerability",
        severity=max_severity(sevs, Severity.INFORMATIONAL),
        status=status,
        status_reason="" if vulns else "NO_VULNERABILITIES",
        description=f"{len(vulns)} vulnerabilities on {target}",
        resource=resource,
        vulns=vulns,
        first_seen=to_datetime(rec.get("firstScanTime"), "record.firstScanTime"),
        last_seen=to_datetime(rec.get("scanTime"), "record.scanTime"),
        data={"riskFactors": sorted(risk), "cloudMetadata": dict(meta)},
    )


def normalise_compute_api(raw: RawAlert, payload: Any) -> Normalised:
    """Normalise one Compute API record wrapped in the ``{"kind", "record"}`` envelope (module docstring)."""
    if not isinstance(payload, Mapping):
        raise InvalidRecordError("compute_api payload must be a JSON object", stage=STAGE)
    kind = req_str(payload, "kind", "")
    record = req_map(payload, "record", "")
    if kind in ("incident", "runtime_audit"):
        return _runtime(raw, kind, record)
    if kind in ("host_scan", "image_scan"):
        return _scan(raw, kind, record)
    raise InvalidRecordError(
        f"compute_api kind {kind!r:.40} unknown; expected one of {sorted(COMPUTE_KINDS)}", stage=STAGE
    )
