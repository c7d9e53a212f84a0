"""Outbound notifications the way Prisma Cloud sends them, for testing a webhook receiver.

* CSPM (reference 7.1/7.2): an HTTP POST whose body is a JSON **array** of notification objects
  (``alertId``, ``alertStatus``, ``policyName``, ``resource{...}``, ...), with the integration's
  custom headers (e.g. an auth token) and ``Content-Type: application/json``. No signature header.
* Compute alert profiles (7.3): one POST per event whose body is the *default template* after
  macro substitution (``type``, ``time``, ``host``, ..., ``vulnerabilities``), optionally with
  Basic auth.

Delivery is at-least-once like the real service: the same alert may arrive in several batches.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import quote

import httpx

__all__ = ["compute_webhook", "cspm_notification", "push_webhooks"]

ComputeKind = Literal["container_runtime", "host_runtime", "incident", "host_vulnerability",
                      "image_vulnerability"]
_TYPE_NAMES = {"container_runtime": "Container Runtime", "host_runtime": "Host Runtime",
               "incident": "Incident", "host_vulnerability": "Host Vulnerability",
               "image_vulnerability": "Container Vulnerability"}
_EMPTY_TEMPLATE: dict[str, Any] = {
    "type": "", "time": "", "container": "", "containerID": "", "image": "", "imageID": "",
    "tags": "", "host": "", "fqdn": "", "function": "", "region": "", "provider": "",
    "osRelease": "", "osDistro": "", "runtime": "", "appID": "", "rule": "", "message": "",
    "aggregatedAlerts": [], "dropped": 0, "forensics": "", "accountID": "", "category": "",
    "command": "", "startupProcess": "", "labels": {}, "collections": [], "complianceIssues": [],
    "vulnerabilities": [], "clusters": [], "namespaces": [], "accountIDs": [], "user": "",
}


def cspm_notification(
    alert: Mapping[str, Any],
    *,
    rule_name: str = "Prismaflow webhook",
    rule_id: str = "bd4c60d0-ed86-4b3f-9074-a98d62a9e740",
    console_url: str = "https://app.prismacloud.io",
) -> dict[str, Any]:
    """The notification object Prisma's webhook integration sends for one (detailed) alert."""
    policy, res = alert["policy"], alert["resource"]
    remediation = policy.get("remediation") or {}
    filters = quote('{"alert.id":["%s"]}' % alert["id"], safe="")
    return {
        "alertId": alert["id"], "alertStatus": alert["status"], "reason": alert["reason"],
        "alertRuleName": rule_name, "alertRuleId": rule_id,
        "policyId": alert["policyId"], "policyName": policy.get("name"),
        "policyType": policy["policyType"], "policyDescription": policy.get("description"),
        "policyRecommendation": policy.get("recommendation"),
        "policyLabels": list(policy.get("labels", [])), "severity": policy.get("severity"),
        "cloudType": res["cloudType"], "accountId": res["accountId"], "accountName": res["account"],
        "resourceId": res["id"], "resourceName": res["name"],
        "resourceType": res["resourceType"].replace("_", " ").title(),
        "resourceCloudService": res["cloudServiceName"], "resourceRegion": res["region"],
        "resourceRegionId": res["regionId"],
        "resource": {k: res[k] for k in ("data", "url", "rrn", "cloudAccountGroups", "accountId",
                                         "resourceTags", "regionId", "cloudType",
                                         "resourceApiName", "name", "additionalInfo", "id",
                                         "region", "account", "resourceType")},
        "tags": [{"key": k, "value": v} for k, v in res.get("resourceTags", {}).items()],
        "firstSeen": alert["firstSeen"], "lastSeen": alert["lastSeen"],
        "alertTs": alert["alertTime"],
        "callbackUrl": f"{console_url}/alerts/overview?viewId=default&filters={filters}",
        "riskRating": "N/A", "hasFinding": False, "findingSummary": {},
        "alertRemediationCli": remediation.get("cliScriptTemplate"),
        "alertRemediationCliDescription": remediation.get("description"),
        "alertRemediationImpact": remediation.get("impact"),
        "alertDismissalNote": alert.get("dismissalNote"), "alertAttribution": {},
        "complianceMetadata": list(policy.get("complianceMetadata", [])),
        "metadata": dict(alert.get("metadata", {})), "source": "Prisma Cloud",
    }


def _webhook_time(iso_time: str) -> str:
    when = datetime.fromisoformat(iso_time.replace("Z", "+00:00")).astimezone(timezone.utc)
    return when.strftime("%b %d, %Y %H:%M:%S UTC")


def compute_webhook(record: Mapping[str, Any], kind: ComputeKind) -> dict[str, Any]:
    """The default alert-profile template filled from a runtime audit, incident or scan result."""
    body = {**_EMPTY_TEMPLATE, "type": _TYPE_NAMES[kind]}
    if kind in ("host_vulnerability", "image_vulnerability"):
        by_sev: dict[str, list[dict[str, Any]]] = {}
        for v in record.get("vulnerabilities", []):
            by_sev.setdefault(v["severity"].capitalize(), []).append(
                {"cve": v["cve"], "severity": v["severity"], "link": v["link"],
                 "status": v["status"], "packages": v["packageName"],
                 "packageVersion": v["packageVersion"]})
        entry: dict[str, Any] = {
            "distribution": record.get("distro", ""), "labels": {},
            "collections": list(record.get("collections", [])),
            "newVulnerabilities": [{"severity": s, "vulnerabilities": vs}
                                   for s, vs in sorted(by_sev.items())]}
        if kind == "host_vulnerability":
            entry["hostname"] = record["hostname"]
        else:
            entry["imageName"] = record["instances"][0]["image"] if record.get("instances") else ""
            entry["imageID"] = record["_id"]
        body["time"] = _webhook_time(record["scanTime"])
        body["vulnerabilities"] = [entry]
        return body
    audits = record.get("audits") or [record]
    first = audits[0]
    body.update(
        time=_webhook_time(record["time"]), host=record.get("hostname", ""),
        container=record.get("containerName", first.get("containerName", "")),
        containerID=record.get("containerID", first.get("containerId", "")),
        image=record.get("imageName", first.get("imageName", "")),
        imageID=record.get("imageID", first.get("imageId", "")),
        region=record.get("region", ""), provider=record.get("provider", ""),
        accountID=record.get("accountID", ""), accountIDs=[record.get("accountID", "")],
        rule=first.get("ruleName", ""), message=first.get("msg", ""),
        category=record.get("category", first.get("attackType", "")),
        command=first.get("command", ""), user=first.get("user", ""),
        collections=list(record.get("collections", [])),
        clusters=[c for c in [record.get("cluster", first.get("cluster"))] if c],
        namespaces=[n for n in [record.get("namespace", first.get("namespace"))] if n],
        aggregatedAlerts=[{"time": a["time"], "type": a["type"], "attackType": a["attackType"],
                           "effect": a["effect"], "severity": a["severity"],
                           "processPath": a.get("processPath", ""), "user": a.get("user", ""),
                           "msg": a["msg"]} for a in audits],
    )
    return body


async def push_webhooks(
    url: str,
    alerts: Sequence[Mapping[str, Any]],
    token_header: tuple[str, str] | None = None,
    *,
    compute_events: Sequence[Mapping[str, Any]] = (),
    client: httpx.AsyncClient | None = None,
    batch_size: int = 10,
    basic_auth: tuple[str, str] | None = None,
) -> list[int]:
    """POST CSPM notifications (arrays of ``batch_size``) then Compute bodies to ``url``.

    ``token_header`` is the integration's custom header, e.g. ``("Authorization", "Bearer x")``;
    ``compute_events`` are bodies from :func:`compute_webhook`. Returns each POST's status code;
    non-2xx answers are not retried here (the real service's retry policy is undocumented).
    """
    owned = client is None
    http = client or httpx.AsyncClient(timeout=10.0)
    headers = {"Content-Type": "application/json"}
    if token_header is not None:
        headers[token_header[0]] = token_header[1]
    statuses: list[int] = []
    try:
        notes = [cspm_notification(a) for a in alerts]
        for i in range(0, len(notes), batch_size):
            response = await http.post(url, json=notes[i:i + batch_size], headers=headers)
            statuses.append(response.status_code)
        compute_headers = {"Content-Type": "application/json"}
        if basic_auth is not None:
            pair = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
            compute_headers["Authorization"] = f"Basic {pair}"
        for event in compute_events:
            response = await http.post(url, json=dict(event), headers=compute_headers)
            statuses.append(response.status_code)
    finally:
        if owned:
            await http.aclose()
    return statuses
