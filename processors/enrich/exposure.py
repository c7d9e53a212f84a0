"""Is the asset reachable from the internet, and on an administrative port? Judged from resource data and the policy.

Called by :func:`processors.enrich.enrich` for every alert with whatever resource data is known
(CSPM ``resource.data``, the Prisma ``/resource`` config, or the Compute risk factors kept by
normalise). :func:`assess_exposure` returns an :class:`Exposure` (a human reason, empty when not
exposed, and whether an administrative service is open); it never raises, since resource data is
whatever the cloud provider returned and any shape is possible.

Signals:

* AWS security groups: an ingress rule from ``0.0.0.0/0`` or ``::/0``. Prisma's config JSON for
  ``aws-ec2-describe-security-groups`` carries ``ipPermissions[].ipRanges`` as plain CIDR strings
  (RQL ``ipPermissions[*].ipRanges[*] contains 0.0.0.0/0``) besides the ``ipv4Ranges`` /
  ``ipv6Ranges`` objects (``cidrIp`` / ``cidrIpv6``) of the AWS API; all shapes count.
* Azure NSGs: an inbound Allow rule from ``*``, ``Internet``, ``Any``, ``0.0.0.0/0`` or ``::/0``
  (``sourceAddressPrefix`` or ``sourceAddressPrefixes``; flat or under ``properties``).
* GCP firewalls: an INGRESS (the default direction) allow rule, not disabled, with source range
  ``0.0.0.0/0`` or ``::/0``.
* Storage: S3 ``policyStatus.isPublic``, ACL grants to ``AllUsers``/``AuthenticatedUsers``;
  GCS IAM members ``allUsers``/``allAuthenticatedUsers``; Azure ``allowBlobPublicAccess``.
* Databases and snapshots: RDS/Redshift ``publiclyAccessible``; EBS ``createVolumePermissions``
  granted to the group ``all``.
* Instances: a ``publicIpAddress`` (AWS) or an ``accessConfigs[].natIP`` (GCP).
* Compute: the risk factor ``Reachable from the internet`` on the host/image or its CVEs.
* Policy: an open CSPM config/network/data policy violation whose name says the resource is
  reachable from outside (:func:`policy_says_exposed`: "publicly accessible", "internet",
  "0.0.0.0/0", "allows all traffic on SSH port (22)", "unrestricted access", ...).

Administrative exposure: the open rule covers SSH (22), Telnet (23), RDP (3389), WinRM
(5985/5986) or every port, or the open policy names such a service (:func:`policy_names_admin_service`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from processors.models import Alert, AlertStatus, Module

__all__ = [
    "ADMIN_PORTS",
    "Exposure",
    "assess_exposure",
    "internet_exposure",
    "policy_names_admin_service",
    "policy_says_exposed",
]

#: Ports of administrative services: SSH, Telnet, RDP, WinRM (HTTP and HTTPS).
ADMIN_PORTS: tuple[int, ...] = (22, 23, 3389, 5985, 5986)

_OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
_ICMP = frozenset({"icmp", "icmpv6", "1", "58"})
_AZURE_ANY = frozenset({"*", "internet", "any", "0.0.0.0/0", "0.0.0.0", "::/0"})
_PUBLIC_GRANTEES = ("allusers", "authenticatedusers")
_GCS_PUBLIC = frozenset({"allUsers", "allAuthenticatedUsers"})
_POLICY_EXPOSED = re.compile(
    r"publicly|\bpublic\b|internet|0\.0\.0\.0(?:/0)?|::/0|\banyone\b|\beveryone\b|\ball ?users\b|anonymous"
    r"|unrestricted (?:inbound|ingress|access)|allows? all traffic|\bworld\b",
    re.IGNORECASE,
)
_POLICY_ADMIN = re.compile(
    r"\b(?:ssh|rdp|winrm|telnet|remote desktop)\b|\bport\s*\(?\s*(?:22|23|3389|5985|5986)\b|\ball ports\b",
    re.IGNORECASE,
)
_POLICY_TYPES_ABOUT_RESOURCES = ("config", "network", "data", "attack_path")


@dataclass(frozen=True, slots=True)
class Exposure:
    """Whether and why an asset is reachable from the internet; falsy when it is not."""

    reason: str = ""
    admin: bool = False

    def __bool__(self) -> bool:
        return bool(self.reason)


_NOT_EXPOSED = Exposure()

# Reasons quote resource data, which is outside text: only values of these shapes are quoted.
_PORT_TEXT = re.compile(r"\*|\d{1,5}(?:-\d{1,5})?")
_WORD_TEXT = re.compile(r"[A-Za-z0-9_./:-]{1,48}")


def _quoted(value: Any, shape: re.Pattern[str] = _WORD_TEXT, fallback: str = "?") -> str:
    """``value`` as text when it has the expected harmless shape, else ``fallback``."""
    text = str(value).strip()
    return text if shape.fullmatch(text) else fallback


def _ip(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return "an address"


def policy_says_exposed(policy_name: str) -> bool:
    """True when a policy's name says it is about reachability from outside (public, internet, 0.0.0.0/0...)."""
    return bool(_POLICY_EXPOSED.search(policy_name))


def policy_names_admin_service(policy_name: str) -> bool:
    """True when a policy's name names an administrative service (SSH, RDP, WinRM, Telnet) or all ports."""
    return bool(_POLICY_ADMIN.search(policy_name))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _covers_admin(low: int | None, high: int | None) -> bool:
    """True when the port range [low, high] (None or -1: every port) includes an administrative port."""
    if low is None or low < 0 or high is None or high < 0:
        return True
    return any(low <= port <= high for port in ADMIN_PORTS)


def _port_spec_covers_admin(spec: Any) -> bool:
    """Azure/GCP port specs: ``"22"``, ``"20-30"``, ``"*"``; anything unreadable counts as no port."""
    text = str(spec).strip()
    if text in ("*", "any", "Any", ""):
        return text != ""
    low, _, high = text.partition("-")
    a, b = _int(low), _int(high) if high else _int(low)
    return a is not None and b is not None and _covers_admin(a, b)


def _cidrs(items: Iterable[Any], key: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item.strip())
        elif isinstance(item, Mapping) and isinstance(item.get(key), str):
            out.append(str(item[key]).strip())
    return out


def _aws_sg(data: Mapping[str, Any]) -> Exposure:
    found: list[Exposure] = []
    for perm in _list(data.get("ipPermissions")):
        if not isinstance(perm, Mapping):
            continue
        cidrs = _cidrs(_list(perm.get("ipRanges")), "cidrIp") + _cidrs(_list(perm.get("ipv4Ranges")), "cidrIp")
        cidrs += _cidrs(_list(perm.get("ipv6Ranges")), "cidrIpv6")
        open_cidr = next((c for c in cidrs if c in _OPEN_CIDRS), None)
        if open_cidr is None:
            continue
        protocol = str(perm.get("ipProtocol", "")).strip().lower()
        if protocol in _ICMP:  # fromPort/toPort are ICMP type and code here, not ports
            found.append(Exposure(f"security group allows {protocol} from {open_cidr}"))
            continue
        low, high = _int(perm.get("fromPort")), _int(perm.get("toPort"))
        if protocol == "-1" or low is None or low < 0:
            low = high = None
        elif high is None:
            high = low
        ports = "all ports" if low is None else (f"port {low}" if low == high else f"ports {low}-{high}")
        found.append(Exposure(f"security group allows ingress from {open_cidr} on {ports}", _covers_admin(low, high)))
    return next((e for e in found if e.admin), found[0] if found else _NOT_EXPOSED)


def _azure_nsg(data: Mapping[str, Any]) -> Exposure:
    rules = _list(data.get("securityRules"))
    props = data.get("properties")
    if isinstance(props, Mapping):
        rules = rules + _list(props.get("securityRules"))
    found: list[Exposure] = []
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        nested = rule.get("properties")
        p: Mapping[str, Any] = nested if isinstance(nested, Mapping) else rule
        if str(p.get("access", "")).lower() != "allow" or str(p.get("direction", "inbound")).lower() != "inbound":
            continue
        sources = [str(p.get("sourceAddressPrefix", ""))] + [str(s) for s in _list(p.get("sourceAddressPrefixes"))]
        src = next((s for s in sources if s.strip().lower() in _AZURE_ANY), None)
        if src is None:
            continue
        ports = [p.get("destinationPortRange")] + _list(p.get("destinationPortRanges"))
        ports = [x for x in ports if x not in (None, "")] or ["*"]
        shown = ", ".join(_quoted(x, _PORT_TEXT) for x in ports[:5])
        admin = any(_port_spec_covers_admin(x) for x in ports)
        found.append(Exposure(f"network security group allows inbound from {src} on port {shown}", admin))
    return next((e for e in found if e.admin), found[0] if found else _NOT_EXPOSED)


def _gcp_firewall(data: Mapping[str, Any]) -> Exposure:
    if str(data.get("direction", "INGRESS")).upper() != "INGRESS" or data.get("disabled") is True:
        return _NOT_EXPOSED
    allowed = [a for a in _list(data.get("allowed")) if isinstance(a, Mapping)]
    if not allowed:
        return _NOT_EXPOSED
    cidr = next((c for c in _list(data.get("sourceRanges")) if c in _OPEN_CIDRS), None)
    if cidr is None:
        return _NOT_EXPOSED
    specs: list[str] = []
    admin = False
    for rule in allowed:
        protocol = str(rule.get("IPProtocol", "all")).lower()
        ports = _list(rule.get("ports"))
        if protocol == "all" or not ports:
            specs.append(f"{_quoted(protocol)}:all ports")
            admin = admin or protocol in ("all", "tcp")
        else:
            specs.append(f"{_quoted(protocol)}:{','.join(_quoted(x, _PORT_TEXT) for x in ports[:5])}")
            admin = admin or any(_port_spec_covers_admin(x) for x in ports)
    return Exposure(f"firewall rule allows ingress from {cidr} to {'; '.join(specs)}", admin)


def _storage(data: Mapping[str, Any]) -> Exposure:
    status = data.get("policyStatus")
    if isinstance(status, Mapping) and status.get("isPublic") is True:
        return Exposure("bucket policy makes the bucket public")
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
                who = "AllUsers" if "allusers" in text else "AuthenticatedUsers"
                return Exposure(f"bucket ACL grants {_quoted(grant.get('permission', 'access'))} to {who}")
    iam = data.get("iam")
    if isinstance(iam, Mapping):
        for binding in _list(iam.get("bindings")):
            if isinstance(binding, Mapping):
                public = _GCS_PUBLIC.intersection(m for m in _list(binding.get("members")) if isinstance(m, str))
                if public:
                    return Exposure(f"bucket IAM grants {_quoted(binding.get('role', 'a role'))} to {min(public)}")
    return _NOT_EXPOSED


def _public_flags(data: Mapping[str, Any]) -> Exposure:
    """Databases, snapshots and storage accounts that say so in their own settings."""
    props = data.get("properties")
    nested: Mapping[str, Any] = props if isinstance(props, Mapping) else {}
    if data.get("publiclyAccessible") is True:
        return Exposure("database instance is publicly accessible")
    if data.get("allowBlobPublicAccess") is True or nested.get("allowBlobPublicAccess") is True:
        return Exposure("storage account allows public blob access")
    for perm in _list(data.get("createVolumePermissions")):
        if isinstance(perm, Mapping) and str(perm.get("group", "")).lower() == "all":
            return Exposure("snapshot can be restored by any AWS account")
    return _NOT_EXPOSED


def _instance(data: Mapping[str, Any]) -> Exposure:
    ip = data.get("publicIpAddress")
    if isinstance(ip, str) and ip:
        return Exposure(f"instance has public IP {_ip(ip)}")
    for nic in _list(data.get("networkInterfaces")):
        if isinstance(nic, Mapping):
            for cfg in _list(nic.get("accessConfigs")):
                if isinstance(cfg, Mapping) and cfg.get("natIP"):
                    return Exposure(f"instance has external IP {_ip(cfg.get('natIP'))}")
    return _NOT_EXPOSED


def _compute(data: Mapping[str, Any]) -> Exposure:
    factors = data.get("riskFactors")
    if isinstance(factors, (list, Mapping)) and "Reachable from the internet" in factors:
        return Exposure("Compute reports the workload reachable from the internet")
    return _NOT_EXPOSED


_CHECKS = (_aws_sg, _azure_nsg, _gcp_firewall, _storage, _public_flags, _instance, _compute)


def assess_exposure(alert: Alert, data: Mapping[str, Any] | None) -> Exposure:
    """Return whether, why and how ``alert``'s asset is reachable from the internet."""
    from_data = _NOT_EXPOSED
    if data:
        for check in _CHECKS:
            from_data = check(data)
            if from_data:
                break
    policy_open = (
        alert.module is Module.CSPM
        and alert.status is AlertStatus.OPEN
        and alert.policy_type in _POLICY_TYPES_ABOUT_RESOURCES
        and policy_says_exposed(alert.policy_name)
    )
    policy_admin = policy_open and policy_names_admin_service(alert.policy_name)
    if from_data:
        return Exposure(from_data.reason, from_data.admin or policy_admin) if policy_admin else from_data
    if policy_open:
        return Exposure(f"open policy violation: {alert.policy_name}", policy_admin)
    return _NOT_EXPOSED


def internet_exposure(alert: Alert, data: Mapping[str, Any] | None) -> str:
    """Return why ``alert``'s asset is internet-exposed, or ``""`` when nothing says it is."""
    return assess_exposure(alert, data).reason
