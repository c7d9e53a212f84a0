"""Is the asset reachable from the internet? Judged from resource data and the policy.

Called by :func:`processors.enrich.enrich` for every alert with whatever resource data is known
(CSPM ``resource.data``, the Prisma ``/resource`` config, or the Compute risk factors kept by
normalise). Returns a human reason when exposed, ``""`` otherwise; never raises, since resource
data is whatever the cloud provider returned and any shape is possible.

Signals:

* AWS security groups: an ingress rule from ``0.0.0.0/0`` or ``::/0``.
* Azure NSGs: an inbound Allow rule from ``*``, ``Internet``, ``Any`` or ``0.0.0.0/0``.
* GCP firewalls: an INGRESS allow rule with source range ``0.0.0.0/0``.
* Storage: S3 ``policyStatus.isPublic``, ACL grants to ``AllUsers``/``AuthenticatedUsers``;
  GCS IAM members ``allUsers``/``allAuthenticatedUsers``.
* Instances: a ``publicIpAddress`` (AWS) or an ``accessConfigs[].natIP`` (GCP).
* Compute: the risk factor ``Reachable from the internet`` on the host/image or its CVEs.
* Policy: an open CSPM config/network alert whose policy name says the resource is public
  (``publicly``, ``internet``, ``0.0.0.0/0`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from processors.models import Alert, AlertStatus, Module

__all__ = ["internet_exposure"]

_OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
_AZURE_ANY = frozenset({"*", "internet", "any", "0.0.0.0/0", "0.0.0.0", "::/0"})
_PUBLIC_GRANTEES = ("allusers", "authenticatedusers")
_GCS_PUBLIC = frozenset({"allUsers", "allAuthenticatedUsers"})
_POLICY_EXPOSED = re.compile(
    r"publicly|public access|public read|public write|internet|0\.0\.0\.0/0|::/0|anyone|unrestricted (?:inbound|ingress|access)|exposed",
    re.IGNORECASE,
)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _aws_sg(data: Mapping[str, Any]) -> str:
    for perm in _list(data.get("ipPermissions")):
        if not isinstance(perm, Mapping):
            continue
        ranges = [r.get("cidrIp") for r in _list(perm.get("ipRanges")) if isinstance(r, Mapping)]
        ranges += [r.get("cidrIpv6") for r in _list(perm.get("ipv6Ranges")) if isinstance(r, Mapping)]
        for cidr in ranges:
            if cidr in _OPEN_CIDRS:
                port = perm.get("fromPort")
                to = perm.get("toPort")
                ports = "all ports" if port in (None, -1) else (f"port {port}" if port == to else f"ports {port}-{to}")
                return f"security group allows ingress from {cidr} on {ports}"
    return ""


def _azure_nsg(data: Mapping[str, Any]) -> str:
    rules = _list(data.get("securityRules"))
    props = data.get("properties")
    if isinstance(props, Mapping):
        rules = rules + _list(props.get("securityRules"))
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        p = rule.get("properties") if isinstance(rule.get("properties"), Mapping) else rule
        assert isinstance(p, Mapping)
        if str(p.get("access", "")).lower() == "allow" and str(p.get("direction", "")).lower() == "inbound":
            src = str(p.get("sourceAddressPrefix", ""))
            if src.lower() in _AZURE_ANY:
                return f"network security group allows inbound from {src} on port {p.get('destinationPortRange', '*')}"
    return ""


def _gcp_firewall(data: Mapping[str, Any]) -> str:
    if str(data.get("direction", "")).upper() == "INGRESS" and data.get("allowed") and not data.get("disabled"):
        for cidr in _list(data.get("sourceRanges")):
            if cidr in _OPEN_CIDRS:
                return f"firewall rule allows ingress from {cidr}"
    return ""


def _storage(data: Mapping[str, Any]) -> str:
    status = data.get("policyStatus")
    if isinstance(status, Mapping) and status.get("isPublic") is True:
        return "bucket policy makes the bucket public"
    acl = data.get("acl")
    if isinstance(acl, Mapping):
        for grant in _list(acl.get("grants")):
            if not isinstance(grant, Mapping):
                continue
            grantee = grant.get("grantee")
            text = (
                str(grantee.get("uri", "") or grantee.get("URI", "") or grantee.get("type", ""))
                if isinstance(grantee, Mapping)
                else str(grantee)
            ).lower()
            if any(p in text for p in _PUBLIC_GRANTEES):
                return f"bucket ACL grants {grant.get('permission', 'access')} to {'AllUsers' if 'allusers' in text else 'AuthenticatedUsers'}"
    iam = data.get("iam")
    if isinstance(iam, Mapping):
        for binding in _list(iam.get("bindings")):
            if isinstance(binding, Mapping):
                public = _GCS_PUBLIC.intersection(m for m in _list(binding.get("members")) if isinstance(m, str))
                if public:
                    return f"bucket IAM grants {binding.get('role', 'a role')} to {min(public)}"
    return ""


def _instance(data: Mapping[str, Any]) -> str:
    ip = data.get("publicIpAddress")
    if isinstance(ip, str) and ip:
        return f"instance has public IP {ip}"
    for nic in _list(data.get("networkInterfaces")):
        if isinstance(nic, Mapping):
            for cfg in _list(nic.get("accessConfigs")):
                if isinstance(cfg, Mapping) and cfg.get("natIP"):
                    return f"instance has external IP {cfg.get('natIP')}"
    return ""


def _compute(data: Mapping[str, Any]) -> str:
    factors = data.get("riskFactors")
    if isinstance(factors, (list, Mapping)) and "Reachable from the internet" in factors:
        return "Compute reports the workload reachable from the internet"
    return ""


_CHECKS = (_aws_sg, _azure_nsg, _gcp_firewall, _storage, _instance, _compute)


def internet_exposure(alert: Alert, data: Mapping[str, Any] | None) -> str:
    """Return why ``alert``'s asset is internet-exposed, or ``""`` when nothing says it is."""
    if data:
        for check in _CHECKS:
            reason = check(data)
            if reason:
                return reason
    if (
        alert.module is Module.CSPM
        and alert.status is AlertStatus.OPEN
        and alert.policy_type in ("config", "network")
        and _POLICY_EXPOSED.search(alert.policy_name)
    ):
        return f"open policy violation: {alert.policy_name}"
    return ""
