"""One builder per kind of Compute alert-profile webhook body: what each normalises to.

Called by :func:`processors.normalise.compute_webhook.normalise_compute_webhook` once the body's
alert type is known (:mod:`processors.normalise.compute_types`). Every builder raises
:class:`InvalidRecordError` when the body does not name the resource the alert is about.

Resource rules (the first field present wins):

* events (runtime, WAAS, network firewall, access, admission/Kubernetes audit, Defender health)
  and incidents: host → serverless function (``function``/``appID``) → image → container →
  cluster → cloud account;
* compliance: host for host-compliance types, else container → image → host;
* vulnerabilities: the image or host of the ``#vulnerabilities`` entry, or, when the list holds
  CVE records directly, the body's own image or host;
* cloud discovery: the cloud account (``accountID``, ``accountIDs[0]``), else the Compute
  credential that scanned it (``credentialId``, resource type ``credential``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import AlertStatus, Cloud, ResourceRef, Vulnerability
from processors.normalise._compute_common import (
    Normalised,
    Origin,
    digest,
    first_str,
    fixed_version,
    host_resource,
    image_resource,
    labels_of,
    make_alert,
    resolve_severity,
    with_note,
)
from processors.normalise._fields import STAGE, opt_str, to_datetime
from processors.normalise.asset import canonical_asset_id, cloud_of, host_key
from processors.normalise.compute_scans import compliance_summary, container_resource
from processors.normalise.compute_types import AlertType, Category

__all__ = ["cloud_discovery_alert", "compliance_alert", "event_alert", "is_vulnerability_entry",
           "vulnerability_alert"]

_EVENT_PREFIX: Mapping[Category, str] = {
    Category.RUNTIME: "runtime", Category.WAAS: "waas", Category.NETWORK_FIREWALL: "network-firewall",
    Category.ACCESS: "access", Category.KUBERNETES: "kubernetes", Category.HEALTH: "health",
    Category.INCIDENT: "incident",
}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _account(body: Mapping[str, Any]) -> str:
    account = first_str(body, "accountID")
    if not account:
        ids = body.get("accountIDs")
        account = next((a for a in ids if isinstance(a, str) and a.strip()), "") if isinstance(ids, list) else ""
    return account.strip()


def _place(body: Mapping[str, Any]) -> tuple[Cloud, str, str, dict[str, str]]:
    return cloud_of(opt_str(body, "provider")), _account(body), opt_str(body, "region"), labels_of(body.get("labels"))


def _time(body: Mapping[str, Any], *keys: str) -> datetime | None:
    for key in keys:
        when = to_datetime(body.get(key), key)
        if when is not None:
            return when
    return None


def _text(body: Mapping[str, Any]) -> str:
    """The alert's message: ``message`` (default template), ``details`` (the documented custom
    template), ``msg`` or ``description``; else the messages of the aggregated audits."""
    text = first_str(body, "message", "details", "msg", "description")
    if text:
        return text
    msgs = [opt_str(a, "msg") for a in _mappings(body.get("aggregatedAlerts"))]
    return "; ".join(m for m in msgs[:5] if m)


def _event_resource(body: Mapping[str, Any], type_name: str) -> ResourceRef:
    cloud, account, region, tags = _place(body)
    host = first_str(body, "host", "hostname")
    if host:
        return host_resource(cloud, account, region, "", host, tags)
    function = first_str(body, "function", "appID")
    if function:
        return ResourceRef(asset_id=canonical_asset_id(cloud, account, region, function, "function"),
                           resource_id=function, name=function, resource_type="function", cloud=cloud,
                           account_id=account, region=region, tags=tags)
    image_id, image = first_str(body, "imageID"), first_str(body, "image", "imageName")
    if image_id or image:
        return image_resource(cloud, account, region, image_id or image, image, tags)
    container = first_str(body, "containerID", "container")
    if container:
        return container_resource(cloud, account, region, container, first_str(body, "container") or container,
                                  "", tags)
    clusters = [c for c in body.get("clusters") or [] if isinstance(c, str) and c.strip()] \
        if isinstance(body.get("clusters"), list) else []
    cluster = first_str(body, "cluster") or (clusters[0] if clusters else "")
    if cluster:
        return ResourceRef(asset_id=canonical_asset_id(cloud, account, region, cluster, "cluster"),
                           resource_id=cluster, name=cluster, resource_type="cluster", cloud=cloud,
                           account_id=account, region=region, tags=tags)
    if account:
        return _account_resource(body, account)
    raise InvalidRecordError(
        f"compute_webhook {type_name!r:.60} alert names no host, function, image, container, cluster or account",
        stage=STAGE)


def _account_resource(body: Mapping[str, Any], account: str) -> ResourceRef:
    cloud, _, region, tags = _place(body)
    return ResourceRef(asset_id=canonical_asset_id(cloud, account, "", account, "account"), resource_id=account,
                       name=account, resource_type="account", cloud=cloud, account_id=account, region=region,
                       tags=tags)


def event_id(body: Mapping[str, Any], type_name: str, resource: ResourceRef, prefix: str = "cwpp:webhook:") -> str:
    """A runtime-style event has no id of its own: hash what tells two events apart."""
    category = opt_str(body, "category") or type_name.replace(" ", "")
    return prefix + digest(type_name, opt_str(body, "time"), resource.name or resource.resource_id,
                           opt_str(body, "containerID"), opt_str(body, "rule"), category, _text(body))


def event_alert(origin: Origin, body: Mapping[str, Any], atype: AlertType, type_name: str) -> Normalised:
    """Runtime, WAAS, network-firewall, access, admission/Kubernetes-audit, health and incident bodies."""
    resource = _event_resource(body, type_name)
    aggregated = _mappings(body.get("aggregatedAlerts"))
    severity, note = resolve_severity([body.get("severity"), *(a.get("severity") for a in aggregated)],
                                      atype.category)
    category = first_str(body, "category") or atype.key
    container = first_str(body, "container")
    text_so_far = _text(body)
    where = (f" in container {container}"
             if container and resource.resource_type != "container" and container not in text_so_far else "")
    incident = atype.category is Category.INCIDENT
    text = _text(body) or (f"{category} incident" if incident else "")
    when = _time(body, "incidentTime", "time") if incident else _time(body, "time")
    return make_alert(
        origin,
        alert_id=event_id(body, type_name, resource, "cwpp:webhook-incident:" if incident else "cwpp:webhook:"),
        policy_id=f"compute:{_EVENT_PREFIX[atype.category]}:{category}",
        policy_name=first_str(body, "rule") or (f"Compute incident: {category}" if incident
                                                else f"Compute {type_name}"),
        policy_type=atype.category.value, severity=severity, status=AlertStatus.OPEN,
        status_reason=first_str(aggregated[0], "effect") if aggregated else "",
        description=with_note(text + where, note), resource=resource, vulns=[],
        first_seen=when, last_seen=when, data={"incident_category": category} if incident else None,
    )


def compliance_alert(origin: Origin, body: Mapping[str, Any], atype: AlertType, type_name: str) -> Normalised:
    """A compliance alert: the issues of one host, container or image (one alert per resource)."""
    cloud, account, region, tags = _place(body)
    host = first_str(body, "host", "hostname")
    container = first_str(body, "containerID", "container")
    image_id, image = first_str(body, "imageID"), first_str(body, "image", "imageName")
    if host and (atype.subject == "host" or not (container or image_id or image)):
        resource, kind, key = host_resource(cloud, account, region, "", host, tags), "host", host_key(account, host)
    elif container and atype.subject != "image":
        name = first_str(body, "container") or container
        resource, kind, key = container_resource(cloud, account, region, container, name, host, tags), "container", container
    elif image_id or image:
        resource, kind, key = image_resource(cloud, account, region, image_id or image, image, tags), "image", image_id or image
    else:
        raise InvalidRecordError(f"compute_webhook {type_name!r:.60} compliance alert names no host, container or image",
                                 stage=STAGE)
    issues = _mappings(body.get("complianceIssues")) or _mappings(body.get("compliance"))
    total, shown, checks = compliance_summary(issues, None)
    severity, note = resolve_severity((i.get("severity") for i in issues), Category.COMPLIANCE)
    name = resource.name or resource.resource_id
    when = _time(body, "time")
    return make_alert(
        origin, alert_id=f"cwpp:{kind}-compliance:{key}", policy_id=f"compute:compliance:{kind}",
        policy_name=f"Compute {kind} compliance", policy_type=Category.COMPLIANCE.value, severity=severity,
        status=AlertStatus.OPEN, status_reason="",
        description=with_note(f"{total} compliance issues on {kind} {name}: {shown}".rstrip(": "), note),
        resource=resource, vulns=[], first_seen=when, last_seen=when, data=None,
        hash_extra=checks or [f"count:{total}"],
    )


def is_vulnerability_entry(value: Any) -> bool:
    """True for an image/host entry of ``#vulnerabilities`` (as opposed to one CVE record)."""
    return isinstance(value, Mapping) and "cve" not in value and any(
        k in value for k in ("imageID", "imageName", "hostname", "newVulnerabilities"))


def _cves(items: list[Mapping[str, Any]], group_severity: Any) -> tuple[list[Vulnerability], list[Any]]:
    vulns: list[Vulnerability] = []
    stated: list[Any] = []
    for item in items:
        cve = opt_str(item, "cve")
        if not cve:
            continue
        stated.append(item.get("severity") or group_severity)
        vulns.append(Vulnerability(cve=cve, package=first_str(item, "sourcePackage", "packages", "packageName"),
                                   installed_version=opt_str(item, "packageVersion"),
                                   fixed_version=fixed_version(opt_str(item, "status"))))
    return vulns, stated


def vulnerability_alert(origin: Origin, body: Mapping[str, Any], atype: AlertType, type_name: str) -> Normalised:
    """New vulnerabilities of one image or host: its ``cwpp:image-vulns``/``cwpp:host-vulns`` id is
    the API scan's, so the two feeds meet in one finding."""
    cloud, account, region, tags = _place(body)
    listed = _mappings(body.get("vulnerabilities"))
    entries = [v for v in listed if is_vulnerability_entry(v)]
    if len(entries) > 1:
        raise InvalidRecordError(
            f"compute_webhook body lists {len(entries)} images/hosts; split it with split_compute_webhook", stage=STAGE)
    vulns: list[Vulnerability] = []
    stated: list[Any] = []
    if entries:
        source: Mapping[str, Any] = entries[0]
        tags.update(labels_of(source.get("labels")))
        for group in _mappings(source.get("newVulnerabilities")):
            found, sevs = _cves(_mappings(group.get("vulnerabilities")), group.get("severity"))
            vulns += found
            stated += sevs or [group.get("severity")]
        found, sevs = _cves(_mappings(source.get("vulnerabilities")), None)
        vulns, stated = vulns + found, stated + sevs
    else:
        source = body
        vulns, stated = _cves(listed, None)
    image_id = first_str(source, "imageID")
    image_name = first_str(source, "imageName", "image")
    host = first_str(source, "hostname", "host")
    if host and (atype.subject == "host" or not (image_id or image_name)):
        resource = host_resource(cloud, account, region, "", host, tags)
        alert_id = f"cwpp:host-vulns:{host_key(account, host)}"
        kind = "host"
    elif image_id or image_name:
        key = image_id or image_name
        resource, alert_id, kind = image_resource(cloud, account, region, key, image_name, tags), f"cwpp:image-vulns:{key}", "image"
    else:
        raise InvalidRecordError(f"compute_webhook {type_name!r:.60} vulnerability alert names no image or host",
                                 stage=STAGE)
    severity, note = resolve_severity(stated, Category.VULNERABILITY)
    when = _time(body, "time")
    return make_alert(
        origin, alert_id=alert_id, policy_id=f"compute:vulnerabilities:{kind}",
        policy_name=f"Compute {kind} vulnerabilities", policy_type=Category.VULNERABILITY.value,
        severity=severity, status=AlertStatus.OPEN, status_reason="NEW_VULNERABILITIES",
        description=with_note(f"{len(vulns)} new vulnerabilities on {resource.name or resource.resource_id}", note),
        resource=resource, vulns=vulns, first_seen=when, last_seen=when, data=None,
    )


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def cloud_discovery_alert(origin: Origin, body: Mapping[str, Any], atype: AlertType, type_name: str) -> Normalised:
    """Cloud resources that no Defender protects, per cloud account, region and service."""
    cloud, account, region, tags = _place(body)
    credential = first_str(body, "credentialId")
    if account:
        resource = _account_resource(body, account)
    elif credential:  # the Compute credential that scanned the account stands in for it
        resource = ResourceRef(asset_id=canonical_asset_id(cloud, "", "", credential, "credential"),
                               resource_id=credential, name=credential, resource_type="credential", cloud=cloud,
                               region=region, tags=tags)
    else:
        raise InvalidRecordError(
            f"compute_webhook {type_name!r:.60} alert names no account (accountID, accountIDs or credentialId)",
            stage=STAGE)
    service = first_str(body, "serviceType", "category")
    total, protected = _number(body.get("total")), _number(body.get("protected"))
    entities = [first_str(e, "name") for e in _mappings(body.get("entities"))]
    text = _text(body)
    if not text and total is not None:
        text = (f"{total - (protected or 0)} of {total} {service or cloud.value} resources in "
                f"{region or 'every region'} are not protected by a Defender")
        if entities:
            text += ": " + ", ".join(e for e in entities[:5] if e)
    severity, note = resolve_severity([body.get("severity")], Category.CLOUD_DISCOVERY)
    when = _time(body, "time")
    return make_alert(
        origin,
        alert_id="cwpp:cloud-discovery:" + ":".join(
            (cloud.value, resource.resource_id, region or "global", service or "all")),
        policy_id=f"compute:cloud-discovery:{service or cloud.value}",
        policy_name=first_str(body, "rule") or "Compute cloud discovery: unprotected cloud resources",
        policy_type=atype.category.value, severity=severity, status=AlertStatus.OPEN, status_reason="",
        description=with_note(text, note), resource=resource, vulns=[], first_seen=when, last_seen=when,
        data=None, hash_extra=[f"unprotected:{(total or 0) - (protected or 0)}"],
    )
