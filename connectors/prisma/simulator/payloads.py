"""Builders for the JSON shapes the simulator serves: alerts, resources, Compute records.

Every builder returns plain dicts in the exact wire shape (camelCase, epoch milliseconds for CSPM,
ISO-8601 strings and unix seconds for Compute) so handlers only filter, page and serialise.
Alerts are updated copy-on-write (:func:`transition` returns a new dict), which lets a page-token
snapshot keep references to the alert dicts as they were when the query started.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from connectors.prisma.simulator.catalog import RESOURCE_KINDS, CveSpec, PolicySpec

__all__ = [
    "iso",
    "make_alert",
    "project_alert",
    "resource_meta",
    "resource_view",
    "sha1",
    "transition",
    "vuln_record",
]


def sha1(*parts: object) -> str:
    return hashlib.sha1(":".join(str(p) for p in parts).encode()).hexdigest()


def iso(ms: int) -> str:
    """Compute's timestamp format: ISO-8601 UTC with milliseconds."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def new_resource(
    kind_key: str,
    *,
    resource_id: str,
    name: str,
    account: dict[str, Any],
    region_id: str,
    region_name: str,
    data: dict[str, Any],
    tags: dict[str, str],
    created_ms: int,
    url: str,
) -> dict[str, Any]:
    """The simulator's internal resource record (a superset of what the API shows)."""
    kind = RESOURCE_KINDS[kind_key]
    rrn = (
        f"rrn::{kind.rrn_type}:{region_id}:{account['accountId']}:"
        f"{sha1(kind.api_name, resource_id)}:{resource_id.replace(':', '%3A').replace('/', '%2F')}"
    )
    return {
        "kind": kind_key,
        "rrn": rrn,
        "id": resource_id,
        "name": name,
        "accountId": account["accountId"],
        "accountName": account["name"],
        "groups": list(account["groups"]),
        "cloudType": kind.cloud,
        "regionId": region_id,
        "regionName": region_name,
        "resourceType": kind.resource_type,
        "apiName": kind.api_name,
        "service": kind.service,
        "label": kind.label,
        "data": data,
        "tags": tags,
        "url": url,
        "createdTs": created_ms,
        "insertTs": created_ms,
        "stateId": sha1("state", rrn),
        "assetId": sha1("asset", rrn)[:32],
        "deleted": False,
    }


def resource_view(res: dict[str, Any]) -> dict[str, Any]:
    """The ``resource`` object inside an alert (CloudResourceModel as real data shows it)."""
    return {
        "rrn": res["rrn"],
        "id": res["id"],
        "name": res["name"],
        "account": res["accountName"],
        "accountId": res["accountId"],
        "cloudAccountGroups": list(res["groups"]),
        "region": res["regionName"],
        "regionId": res["regionId"],
        "resourceType": res["resourceType"],
        "resourceApiName": res["apiName"],
        "cloudServiceName": res["service"],
        "cloudType": res["cloudType"],
        "url": res["url"],
        "resourceTags": dict(res["tags"]),
        "resourceTs": res["insertTs"],
        "unifiedAssetId": res["assetId"],
        "resourceConfigJsonAvailable": True,
        "resourceDetailsAvailable": True,
        "additionalInfo": {},
        "data": res["data"],
    }


def resource_meta(res: dict[str, Any], *, with_json: bool = True) -> dict[str, Any]:
    """``ResourceMetaModel`` as ``POST /resource`` and ``/search/config`` return it (rrn string)."""
    out: dict[str, Any] = {
        "accountId": res["accountId"],
        "accountName": res["accountName"],
        "accountGroupName": res["groups"][0] if res["groups"] else "",
        "allowDrillDown": True,
        "assetId": res["assetId"],
        "cloudType": res["cloudType"],
        "createdTs": res["createdTs"],
        "insertTs": res["insertTs"],
        "deleted": res["deleted"],
        "hasAlert": False,
        "hasExtFindingRiskFactors": False,
        "hasExternalFinding": False,
        "hasExternalIntegration": False,
        "hasNetwork": res["resourceType"] in ("INSTANCE", "SECURITY_GROUP", "FIREWALL"),
        "id": res["id"],
        "name": res["name"],
        "regionId": res["regionId"],
        "regionName": res["regionName"],
        "resourceConfigJsonAvailable": True,
        "resourceType": res["resourceType"],
        "rrn": res["rrn"],
        "service": res["service"],
        "stateId": res["stateId"],
        "tags": dict(res["tags"]),
        "url": res["url"],
    }
    if with_json:
        out["data"] = res["data"]
    return out


_RULE_TYPES = {"config": "Config", "network": "Network", "audit_event": "AuditEvent",
               "iam": "IAM"}


def policy_view(policy: PolicySpec) -> dict[str, Any]:
    """The detailed ``policy`` object of an alert."""
    out: dict[str, Any] = {
        "policyId": policy.policy_id,
        "name": policy.name,
        "policyType": policy.policy_type,
        "policySubTypes": list(policy.subtypes),
        "systemDefault": True,
        "description": policy.description,
        "severity": policy.severity,
        "recommendation": policy.recommendation,
        "complianceMetadata": [
            {
                "standardName": std[0],
                "standardDescription": std[1],
                "requirementId": req,
                "requirementName": req,
                "sectionId": section,
                "sectionDescription": text,
                "sectionLabel": section,
                "policyId": policy.policy_id,
                "complianceId": sha1("compliance", std[0], section)[:32],
                "systemDefault": True,
                "customAssigned": False,
            }
            for std, req, section, text in policy.compliance
        ],
        "labels": list(policy.labels),
        "lastModifiedOn": 1716200000000,
        "lastModifiedBy": "template@redlock.io",
        "deleted": False,
        "remediable": policy.remediable,
        "rule": {
            "name": policy.name,
            "criteria": sha1("search", policy.policy_id)[:32],
            "parameters": {"savedSearch": "true"},
            "type": _RULE_TYPES.get(policy.policy_type, "Config"),
        },
    }
    if policy.cli_template is not None:
        out["remediation"] = {
            "cliScriptTemplate": policy.cli_template,
            "description": policy.cli_description,
        }
    return out


def make_alert(
    number: int,
    policy: PolicySpec,
    res: dict[str, Any],
    t_ms: int,
    *,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new open alert (``NEW_ALERT``; IAM alerts say ``SCHEDULED`` as the reference documents)."""
    reason = "SCHEDULED" if policy.policy_type == "iam" else "NEW_ALERT"
    search_id = sha1("search", policy.policy_id)[:32]
    alert_id = f"P-{number}"
    alert: dict[str, Any] = {
        "id": alert_id,
        "status": "open",
        "reason": reason,
        "firstSeen": t_ms,
        "lastSeen": t_ms,
        "alertTime": t_ms,
        "lastUpdated": t_ms,
        "policyId": policy.policy_id,
        "saveSearchId": search_id,
        "metadata": {"saveSearchId": search_id, **(metadata or {})},
        "networkAnomaly": False,
        "history": [
            {"modifiedBy": "Prisma Cloud", "modifiedOn": t_ms, "reason": reason, "status": "open"}
        ],
        "policy": policy_view(policy),
        "resource": resource_view(res),
        "investigateOptions": {
            "alertId": alert_id,
            "searchId": search_id,
            "hasSearchExecutionSupport": True,
        },
    }
    if policy.policy_type == "audit_event":
        alert["eventOccurred"] = t_ms - 30_000
    return alert


def transition(
    alert: dict[str, Any],
    status: str,
    reason: str,
    t_ms: int,
    *,
    by: str = "Prisma Cloud",
    note: str | None = None,
    until_ms: int | None = None,
) -> dict[str, Any]:
    """A copy of ``alert`` moved to ``status``; the original dict is left untouched."""
    new = dict(alert)
    new["status"] = status
    new["reason"] = reason
    new["lastSeen"] = t_ms
    new["lastUpdated"] = t_ms
    if status == "open" and alert["status"] == "resolved":
        new["alertTime"] = t_ms  # a re-violation reopens the alert with a new alertTime
    new["history"] = [
        *alert["history"],
        {"modifiedBy": by, "modifiedOn": t_ms, "reason": reason, "status": status},
    ]
    for key in ("dismissalNote", "dismissedBy", "dismissalUntilTs"):
        new.pop(key, None)
    if status in ("dismissed", "snoozed"):
        new["dismissalNote"] = note or ""
        new["dismissedBy"] = by
        new["dismissalUntilTs"] = until_ms if until_ms is not None else -1
    return new


def project_alert(alert: dict[str, Any], *, detailed: bool) -> dict[str, Any]:
    """The alert as ``/v2/alert`` shows it: without ``detailed`` the policy shrinks to four keys."""
    if detailed:
        return alert
    policy = alert["policy"]
    slim = {k: policy[k] for k in ("policyId", "policyType", "systemDefault", "remediable")}
    return {**alert, "policy": slim}


def vuln_record(cve: CveSpec, *, discovered_ms: int, in_use: bool, host_type: bool) -> dict[str, Any]:
    """A ``vuln.Vulnerability`` entry for an image or host scan result."""
    risk: dict[str, Any] = {f"{cve.severity.capitalize()} severity": {}}
    if cve.fixed:
        risk["Has fix"] = {}
    if cve.cvss >= 9.0 or "execution" in cve.description.lower():
        risk["Remote execution"] = {}
    risk["Attack complexity: low"] = {}
    risk["Attack vector: network"] = {}
    if cve.exploit:
        risk["Exploit exists - in the wild"] = {}
    if in_use:
        risk["Package in use"] = {}
    return {
        "id": 46,
        "cve": cve.cve,
        "cvss": cve.cvss,
        "vecStr": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "severity": cve.severity,
        "status": f"fixed in {cve.fixed}" if cve.fixed else "needed",
        "packageName": cve.package,
        "packageVersion": cve.version,
        "packageType": cve.package_type,
        "binaryPkgs": [cve.package],
        "description": cve.description,
        "link": f"https://nvd.nist.gov/vuln/detail/{cve.cve}",
        "published": cve.published,
        "fixDate": cve.published + 86_400 if cve.fixed else 0,
        "discovered": iso(discovered_ms)[:19] + "Z",
        "layerTime": cve.published - 86_400 * 30,
        "exploit": cve.exploit,
        "exploits": [{"source": cve.exploit, "kind": "in-the-wild"}] if cve.exploit else [],
        "riskFactors": risk,
        "applicableRules": [f"<{cve.fixed}"] if cve.fixed else ["*"],
        "type": "image",  # [INFERRED] package CVEs on hosts use the image check type too
        "title": "",
        "text": "",
        "cause": "",
        "templates": [],
        "twistlock": False,
        "cri": False,
        "functionLayer": "",
    }


def distribution(vulns: list[dict[str, Any]]) -> dict[str, int]:
    """``vuln.Distribution`` counts for a list of vulnerability records."""
    counts = {"critical": 0, "high": 0, "medium": 0, "low": 0}
    for v in vulns:
        if v["severity"] in counts:
            counts[v["severity"]] += 1
    return {**counts, "total": len(vulns)}
