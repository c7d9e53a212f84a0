"""Normalisers for Compute scan results: ``/hosts``, ``/images`` (vulnerabilities) and ``/containers`` (compliance).

A scan result is the current state of one host, image or container, so each gets one alert whose
id the next scan of the same thing keeps (``cwpp:host-vulns:<hostname>``,
``cwpp:image-vulns:<image id>``, ``cwpp:container-compliance:<container id>``).

Open or resolved, the rule that protects tickets: a scan resolves its finding only when it says
affirmatively that nothing is left (an empty list, or a count of zero). Compute often returns
``vulnerabilities: null`` (or no list, with ``compact=true`` or a ``fields`` projection) while
``vulnerabilitiesCount`` and ``vulnerabilityDistribution`` are non-zero; such a record stays open
with the count in its description and its severity taken from the distribution. A record with
neither a list nor a count says nothing about the host and is rejected, never read as clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import AlertStatus, Cloud, ResourceRef, Severity, Vulnerability
from processors.normalise._compute_common import (
    Normalised,
    Origin,
    cvss_of,
    first_str,
    fixed_version,
    host_resource,
    image_resource,
    labels_of,
    make_alert,
    resolve_severity,
    severity_from_cvss,
    with_note,
)
from processors.normalise._fields import STAGE, known_severity, opt_map, opt_str, req_str, to_datetime
from processors.normalise.asset import canonical_asset_id, cloud_of
from processors.normalise.compute_types import Category

__all__ = ["container_scan", "distribution_severities", "vulnerability_scan"]

_BANDS: tuple[tuple[str, Severity], ...] = (
    ("critical", Severity.CRITICAL), ("high", Severity.HIGH), ("medium", Severity.MEDIUM), ("low", Severity.LOW),
)


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return max(int(value), 0)


def distribution_severities(dist: Mapping[str, Any]) -> list[Severity]:
    """The severity bands a ``{critical, high, medium, low, total}`` distribution has counts in."""
    return [sev for key, sev in _BANDS if (_count(dist.get(key)) or 0) > 0]


def _counted(count: Any, dist: Mapping[str, Any]) -> int | None:
    """How many findings the record counts, or None when it carries no count at all."""
    numbers = [n for n in (_count(count), _count(dist.get("total"))) if n is not None]
    band_values = [_count(dist.get(key)) for key, _ in _BANDS]
    bands = [n for n in band_values if n is not None]
    if bands:
        numbers.append(sum(bands))
    return max(numbers) if numbers else None


def _describe_distribution(dist: Mapping[str, Any]) -> str:
    parts = [f"{key} {_count(dist.get(key))}" for key, _ in _BANDS if _count(dist.get(key))]
    return f" ({', '.join(parts)})" if parts else ""


def _api_vulnerabilities(items: Any, risk: set[str]) -> tuple[list[Vulnerability], list[Severity]]:
    vulns: list[Vulnerability] = []
    sevs: list[Severity] = []
    seen: set[tuple[str, str, str]] = set()
    if not isinstance(items, list):
        return vulns, sevs
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidRecordError(f"record.vulnerabilities[{i}] is not an object", stage=STAGE)
        cve = opt_str(item, "cve")
        if not cve:
            continue  # compliance-style checks without a CVE are not vulnerabilities
        cvss = cvss_of(item.get("cvss"))
        sev = known_severity(item.get("severity")) or severity_from_cvss(cvss)
        if sev is not None:
            sevs.append(sev)
        package, version = opt_str(item, "packageName"), opt_str(item, "packageVersion")
        if (cve, package, version) in seen:
            continue
        seen.add((cve, package, version))
        factors = item.get("riskFactors")
        if isinstance(factors, Mapping):
            risk.update(k for k in factors if isinstance(k, str))
        vulns.append(Vulnerability(cve=cve, cvss=cvss, package=package, installed_version=version,
                                   fixed_version=fixed_version(opt_str(item, "status"))))
    return vulns, sevs


def vulnerability_scan(origin: Origin, kind: str, rec: Mapping[str, Any], alert_id: str) -> Normalised:
    """Normalise a ``/hosts`` (``host_scan``) or ``/images`` (``image_scan``) record (module docstring)."""
    meta = opt_map(rec, "cloudMetadata")
    cloud = cloud_of(opt_str(meta, "provider"))
    account, region = opt_str(meta, "accountID"), opt_str(meta, "region")
    risk: set[str] = set()
    top_factors = rec.get("riskFactors")
    if isinstance(top_factors, Mapping):
        risk.update(k for k in top_factors if isinstance(k, str))
    listed = rec.get("vulnerabilities")
    vulns, stated = _api_vulnerabilities(listed, risk)
    dist = opt_map(rec, "vulnerabilityDistribution")
    counted = _counted(rec.get("vulnerabilitiesCount"), dist)
    tags = labels_of(rec.get("labels"))
    if kind == "host_scan":
        hostname = opt_str(rec, "hostname") or req_str(rec, "_id", "record")
        resource = host_resource(cloud, account, region, opt_str(meta, "resourceID"), hostname, tags)
        target, ptype = f"host {hostname}", "host"
    else:
        image_id = opt_str(rec, "_id") or req_str(rec, "id", "record")
        repo = opt_map(rec, "repoTag")
        name = (f"{opt_str(repo, 'registry')}/{opt_str(repo, 'repo')}:{opt_str(repo, 'tag')}".lstrip("/").rstrip(":")
                if repo.get("repo") else "")
        resource = image_resource(cloud, account, region, image_id, name, tags)
        target, ptype = f"image {name or image_id}", "image"
    hash_extra: list[str] = []
    if vulns or (counted or 0) > 0:
        status, reason = AlertStatus.OPEN, ""
        severity, note = resolve_severity([*stated, *distribution_severities(dist)], Category.VULNERABILITY)
        total = max(len(vulns), counted or 0)
        description = f"{total} vulnerabilities on {target}{_describe_distribution(dist)}"
        if not vulns:
            description += "; the scan record lists no CVEs, only counts"
            hash_extra = [f"count:{total}", *(f"{k}:{_count(dist.get(k)) or 0}" for k, _ in _BANDS)]
        description = with_note(description, note)
    elif isinstance(listed, list) or counted is not None:
        status, reason, severity = AlertStatus.RESOLVED, "NO_VULNERABILITIES", Severity.INFORMATIONAL
        description = f"0 vulnerabilities on {target}"
    else:
        raise InvalidRecordError(
            f"{kind} record has neither a vulnerabilities list nor vulnerabilitiesCount/vulnerabilityDistribution: "
            f"cannot tell whether {target} is clean", stage=STAGE)
    return make_alert(
        origin, alert_id=alert_id, policy_id=f"compute:vulnerabilities:{ptype}",
        policy_name=f"Compute {ptype} vulnerabilities", policy_type=Category.VULNERABILITY.value,
        severity=severity, status=status, status_reason=reason, description=description, resource=resource,
        vulns=vulns, first_seen=to_datetime(rec.get("firstScanTime"), "record.firstScanTime"),
        last_seen=to_datetime(rec.get("scanTime"), "record.scanTime"),
        data={"riskFactors": sorted(risk), "cloudMetadata": dict(meta),
              **({"hosts": _image_hosts(rec)} if kind == "image_scan" else {})},
        hash_extra=hash_extra,
    )


def _image_hosts(rec: Mapping[str, Any]) -> list[str]:
    """The hosts an image runs on (``hosts`` keys and ``instances[].host``): the asset graph links them."""
    hosts = rec.get("hosts")
    names = {h for h in hosts if isinstance(h, str)} if isinstance(hosts, Mapping) else set()
    instances = rec.get("instances")
    for item in instances if isinstance(instances, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("host"), str):
            names.add(item["host"])
    return sorted(n for n in names if n)


def container_resource(
    cloud: Cloud, account: str, region: str, container_id: str, name: str, hostname: str, tags: dict[str, str],
    host_instance_id: str = "",
) -> ResourceRef:
    """A container's finding lives on its host's asset (so it meets the host's other findings);
    the resource itself is the container. The host is keyed as a host scan keys it: by its instance
    id when Compute knows it (``/containers`` ``info.cloudMetadata`` describes the host VM), else by
    hostname. Without either the container is its own asset."""
    if hostname or host_instance_id:
        asset = host_resource(cloud, account, region, host_instance_id, hostname, tags).asset_id
    else:
        asset = canonical_asset_id(cloud, account, region, container_id, "container")
    return ResourceRef(asset_id=asset, resource_id=container_id, name=name, resource_type="container",
                       cloud=cloud, account_id=account, region=region, tags=tags)


def compliance_summary(issues: list[Mapping[str, Any]], counted: int | None) -> tuple[int, str, list[str]]:
    """(number of issues, ``"; "``-joined titles of the first three, ``check:<id>`` hash facts)."""
    titles = [opt_str(i, "title") for i in issues if opt_str(i, "title")]
    checks = sorted({f"check:{opt_str(i, 'id')}" for i in issues if opt_str(i, "id")})
    total = max(len(issues), counted or 0)
    shown = "; ".join(titles[:3]) + ("; ..." if len(titles) > 3 else "")
    return total, shown, checks


def container_scan(origin: Origin, rec: Mapping[str, Any], alert_id: str) -> Normalised:
    """Normalise a ``/containers`` record into the container's compliance finding (module docstring)."""
    info = opt_map(rec, "info")
    meta = opt_map(info, "cloudMetadata") or opt_map(rec, "cloudMetadata")
    cloud = cloud_of(opt_str(meta, "provider"))
    account, region = opt_str(meta, "accountID"), opt_str(meta, "region")
    container_id = first_str(info, "id") or req_str(rec, "_id", "record")
    name = first_str(info, "name") or container_id
    resource = container_resource(cloud, account, region, container_id, name, opt_str(rec, "hostname"),
                                  labels_of(info.get("labels")), host_instance_id=opt_str(meta, "resourceID"))
    listed = info.get("complianceIssues")
    issues = [i for i in listed if isinstance(i, Mapping)] if isinstance(listed, list) else []
    dist = opt_map(info, "complianceDistribution")
    counted = _counted(info.get("complianceIssuesCount"), dist)
    total, shown, checks = compliance_summary(issues, counted)
    if total > 0:
        status, reason = AlertStatus.OPEN, ""
        severity, note = resolve_severity(
            [*(i.get("severity") for i in issues), *distribution_severities(dist)], Category.COMPLIANCE)
        description = with_note(f"{total} compliance issues on container {name}: {shown}".rstrip(": "), note)
    elif isinstance(listed, list) or counted is not None:
        status, reason, severity = AlertStatus.RESOLVED, "NO_COMPLIANCE_ISSUES", Severity.INFORMATIONAL
        description = f"0 compliance issues on container {name}"
    else:
        raise InvalidRecordError(
            "container_scan record has neither complianceIssues nor complianceIssuesCount/complianceDistribution: "
            f"cannot tell whether container {name} is compliant", stage=STAGE)
    return make_alert(
        origin, alert_id=alert_id, policy_id="compute:compliance:container",
        policy_name="Compute container compliance", policy_type=Category.COMPLIANCE.value,
        severity=severity, status=status, status_reason=reason, description=description, resource=resource,
        vulns=[], first_seen=None,
        last_seen=to_datetime(rec.get("scanTime"), "record.scanTime"),
        data={"riskFactors": [], "cloudMetadata": dict(meta)}, hash_extra=checks or [f"count:{total}"],
    )
