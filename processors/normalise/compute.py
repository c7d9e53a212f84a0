"""Normalisers for Prisma Cloud Compute (CWPP) API records.

Compute findings carry no Prisma alert id, so each gets a stable derived id (see
:func:`compute_alert_id`) that the same finding keeps across polls, and that the API and the
webhook agree on for vulnerability and compliance findings (``cwpp:image-vulns:<imageID>``,
``cwpp:host-vulns:[<account>:]<hostname>``, ``cwpp:container-compliance:<container id>``).

The ``compute_api`` envelope (what the Compute poller writes into ``RawAlert.payload_json``)::

    {"kind": "incident" | "runtime_audit" | "waas_audit" | "host_scan" | "image_scan" | "container_scan",
     "record": { ...one element of the Compute API response array, unchanged... }}

``runtime_audit`` covers every ``/audits/runtime/*`` type (container, host, serverless,
app-embedded); ``waas_audit`` every ``/audits/firewall/app/*`` type (WAAS); ``host_scan`` is an
element of ``/hosts``, ``image_scan`` of ``/images``, ``container_scan`` of ``/containers``
(scans are normalised in :mod:`processors.normalise.compute_scans`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import AlertStatus, RawAlert, ResourceRef
from processors.normalise._compute_common import (
    Normalised,
    Origin,
    first_str,
    host_resource,
    image_resource,
    labels_of,
    make_alert,
    resolve_severity,
    with_note,
)
from processors.normalise._fields import STAGE, opt_map, opt_str, req_map, req_str, to_datetime
from processors.normalise.asset import cloud_of, host_key
from processors.normalise.compute_scans import container_scan, vulnerability_scan
from processors.normalise.compute_types import Category

__all__ = ["COMPUTE_KINDS", "compute_alert_id", "normalise_compute_api"]

COMPUTE_KINDS = frozenset({"incident", "runtime_audit", "waas_audit", "host_scan", "image_scan", "container_scan"})
INTERNET_RISK_FACTORS = frozenset({"Reachable from the internet"})


def compute_alert_id(kind: str, record: Mapping[str, Any]) -> str:
    """Return the stable alert id of one Compute API record (the poller uses it as the RawAlert key).

    incident → ``cwpp:incident:<_id>``; runtime_audit → ``cwpp:audit:<_id>``; waas_audit →
    ``cwpp:waas:<_id>``; host_scan → ``cwpp:host-vulns:<account>:<hostname or _id>`` (account from
    ``cloudMetadata.accountID``, left out when unknown: :func:`~processors.normalise.asset.host_key`); image_scan →
    ``cwpp:image-vulns:<_id or id>``; container_scan → ``cwpp:container-compliance:<info.id or _id>``.
    Raises InvalidRecordError when the kind is unknown or the record lacks its identifying field.
    """
    if kind == "incident":
        return f"cwpp:incident:{req_str(record, '_id', 'record')}"
    if kind == "runtime_audit":
        return f"cwpp:audit:{req_str(record, '_id', 'record')}"
    if kind == "waas_audit":
        return f"cwpp:waas:{req_str(record, '_id', 'record')}"
    if kind == "host_scan":
        host = opt_str(record, "hostname") or req_str(record, "_id", "record")
        return f"cwpp:host-vulns:{host_key(opt_str(opt_map(record, 'cloudMetadata'), 'accountID'), host)}"
    if kind == "image_scan":
        image = opt_str(record, "_id") or req_str(record, "id", "record")
        return f"cwpp:image-vulns:{image}"
    if kind == "container_scan":
        info = record.get("info")
        container = first_str(info, "id") if isinstance(info, Mapping) else ""
        return f"cwpp:container-compliance:{container or req_str(record, '_id', 'record')}"
    raise InvalidRecordError(
        f"compute_api kind {kind!r:.40} unknown; expected one of {sorted(COMPUTE_KINDS)}", stage=STAGE
    )


def _workload_resource(rec: Mapping[str, Any]) -> ResourceRef:
    """An audit's or incident's asset: its host (instance id when known), else its image."""
    hostname = opt_str(rec, "hostname")
    instance_id = opt_str(rec, "resourceID")
    cloud = cloud_of(opt_str(rec, "provider"))
    account, region = opt_str(rec, "accountID"), opt_str(rec, "region")
    tags = labels_of(rec.get("labels"))
    if hostname or instance_id:
        return host_resource(cloud, account, region, instance_id, hostname, tags)
    image = first_str(rec, "imageId", "imageID")
    if image:
        return image_resource(cloud, account, region, image, opt_str(rec, "imageName"), tags)
    raise InvalidRecordError("record.hostname and record.resourceID both missing", stage=STAGE)


def _container_phrase(rec: Mapping[str, Any]) -> str:
    container = first_str(rec, "containerName", "containerID", "containerId")
    return f" in container {container}" if container else ""


def _incident(origin: Origin, rec: Mapping[str, Any]) -> Normalised:
    resource = _workload_resource(rec)
    audits = rec.get("audits")
    audit_list = [a for a in audits if isinstance(a, Mapping)] if isinstance(audits, list) else []
    severity, note = resolve_severity((a.get("severity") for a in audit_list), Category.INCIDENT)
    category = req_str(rec, "category", "record")
    msgs = "; ".join(opt_str(a, "msg") for a in audit_list[:5] if opt_str(a, "msg"))
    acknowledged = rec.get("acknowledged") is True
    when = to_datetime(rec.get("time"), "record.time")
    where = resource.name or resource.resource_id
    return make_alert(
        origin,
        alert_id=compute_alert_id("incident", rec),
        policy_id=f"compute:incident:{category}",
        policy_name=opt_str(rec, "customRuleName") or f"Compute incident: {category}",
        policy_type=Category.INCIDENT.value,
        severity=severity,
        status=AlertStatus.RESOLVED if acknowledged else AlertStatus.OPEN,
        status_reason="ACKNOWLEDGED" if acknowledged else "",
        description=with_note(f"{category} incident on {where}{_container_phrase(rec)}. {msgs}", note),
        resource=resource,
        vulns=[],
        first_seen=when,
        last_seen=when,
        data={"incident_category": category},
    )


def _audit(origin: Origin, kind: str, rec: Mapping[str, Any]) -> Normalised:
    resource = _workload_resource(rec)
    waas = kind == "waas_audit"
    category = Category.WAAS if waas else Category.RUNTIME
    attack = first_str(rec, "attackType", "type") or category.value
    severity, note = resolve_severity([rec.get("severity")], category)
    url = opt_str(rec, "url")
    text = opt_str(rec, "msg") + _container_phrase(rec) + (f" (request {url})" if waas and url else "")
    prefix = "waas" if waas else "runtime"
    return make_alert(
        origin,
        alert_id=compute_alert_id(kind, rec),
        policy_id=f"compute:{prefix}:{attack}",
        policy_name=opt_str(rec, "ruleName") or f"Compute {prefix}: {attack}",
        policy_type=category.value,
        severity=severity,
        status=AlertStatus.OPEN,
        status_reason=opt_str(rec, "effect"),
        description=with_note(text, note),
        resource=resource,
        vulns=[],
        first_seen=to_datetime(rec.get("time"), "record.time"),
        last_seen=to_datetime(rec.get("time"), "record.time"),
        data=None,
    )


def normalise_compute_api(raw: RawAlert, payload: Any) -> Normalised:
    """Normalise one Compute API record wrapped in the ``{"kind", "record"}`` envelope (module docstring)."""
    if not isinstance(payload, Mapping):
        raise InvalidRecordError("compute_api payload must be a JSON object", stage=STAGE)
    kind = req_str(payload, "kind", "")
    record = req_map(payload, "record", "")
    origin = Origin(raw.source, raw.received_at)
    if kind == "incident":
        return _incident(origin, record)
    if kind in ("runtime_audit", "waas_audit"):
        return _audit(origin, kind, record)
    if kind in ("host_scan", "image_scan"):
        return vulnerability_scan(origin, kind, record, compute_alert_id(kind, record))
    if kind == "container_scan":
        return container_scan(origin, record, compute_alert_id(kind, record))
    raise InvalidRecordError(
        f"compute_api kind {kind!r:.40} unknown; expected one of {sorted(COMPUTE_KINDS)}", stage=STAGE
    )
