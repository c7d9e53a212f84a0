"""What one finding's payload proves about the asset graph: links to neighbours, host aliases.

Pure functions of a normalised alert and its resource data (``normalise_with_data``). Only what
the payload itself states is derived, so any partition that sees the same payload derives the same
links (the stream core relies on that, see :mod:`processors.graph`).

Links (hub → satellite; the hub is the workload, the satellite what is attached to or runs on it):

=====================  ===========================================================================
``instance_profile``   an EC2 instance's ``iamInstanceProfile.arn`` → the IAM role. A role ARN names
                       the role; an ``instance-profile/<name>`` ARN names the role of the same name
                       (the console and most templates name the profile after its role; a profile
                       named otherwise is not linked: a documented gap)
``security_group``     an EC2 instance's ``securityGroups[].groupId`` → the security group; an Azure
                       VM's ``networkSecurityGroupId`` (or its NICs') → the NSG
``runs_image``         a Compute image scan's ``hosts`` → each host running the image (the host as a
                       Compute record that knows only its name would name it; the stream core
                       resolves host names to instances through the aliases below)
=====================  ===========================================================================

Aliases: an instance's configuration names its host (AWS ``privateDnsName`` and its first label,
Azure ``osProfile.computerName``, GCP ``name``); a Compute record that knows only a host name gets
an asset id like ``aws:<acct>:<region>:host/<name>`` or, with nothing but the name,
``other::global:host/<name>``. :func:`host_aliases` lists those ids for the instance.

*Authoritative* relations: an instance configuration that carries ``securityGroups`` lists all of
them, so a group it no longer lists is unlinked; likewise ``iamInstanceProfile`` and an image
scan's ``hosts``. A payload without the key (a Compute record, a trimmed webhook) says nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from processors.models import Alert, Cloud
from processors.normalise.asset import asset_kind, canonical_asset_id

__all__ = ["Derived", "Edge", "HUB_KINDS", "Relation", "derive", "host_aliases"]

Relation = Literal["instance_profile", "security_group", "runs_image"]

#: Kinds of asset that are hubs: the workloads incidents form around.
HUB_KINDS = frozenset({"instance", "host"})

_MAX_HOSTS = 500  # an image scan listing more hosts is linked to these (a cap on fan-out)


@dataclass(frozen=True, slots=True)
class Edge:
    """One link of the asset graph: the hub workload and the satellite attached to it."""

    hub: str
    satellite: str
    relation: Relation


@dataclass(frozen=True, slots=True)
class Derived:
    """What a payload proves: links, the relations it lists completely, and host aliases."""

    edges: tuple[Edge, ...] = ()
    authoritative: frozenset[Relation] = frozenset()
    aliases: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.edges or self.authoritative or self.aliases)


NOTHING = Derived()


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _role_from_profile_arn(arn: str) -> tuple[str, str] | None:
    """(account, role name) from an instance-profile or role ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or "/" not in parts[5]:
        return None
    rtype, _, path = parts[5].partition("/")
    name = path.rsplit("/", 1)[-1]
    if rtype not in ("instance-profile", "role") or not name:
        return None
    return parts[4], name


def _aws_instance_edges(alert: Alert, data: Mapping[str, Any]) -> tuple[list[Edge], set[Relation]]:
    hub, res = alert.resource.asset_id, alert.resource
    edges: list[Edge] = []
    complete: set[Relation] = set()
    if "iamInstanceProfile" in data:
        complete.add("instance_profile")
        profile = data.get("iamInstanceProfile")
        arn = _str(profile, "arn") if isinstance(profile, Mapping) else ""
        parsed = _role_from_profile_arn(arn)
        if parsed is not None:
            account, name = parsed
            role = canonical_asset_id(Cloud.AWS, account or res.account_id, "", f"arn:aws:iam::{account}:role/{name}")
            edges.append(Edge(hub, role, "instance_profile"))
    groups = data.get("securityGroups")
    if isinstance(groups, list):
        complete.add("security_group")
        for group in groups:
            gid = _str(group, "groupId") if isinstance(group, Mapping) else (group if isinstance(group, str) else "")
            if gid.startswith("sg-"):
                sg = canonical_asset_id(Cloud.AWS, res.account_id, res.region, gid, "security-group")
                edges.append(Edge(hub, sg, "security_group"))
    return edges, complete


def _azure_instance_edges(alert: Alert, data: Mapping[str, Any]) -> tuple[list[Edge], set[Relation]]:
    hub, res = alert.resource.asset_id, alert.resource
    ids = [_str(data, "networkSecurityGroupId")]
    nics = data.get("networkInterfaces")
    for nic in nics if isinstance(nics, list) else []:
        if isinstance(nic, Mapping):
            nsg = nic.get("networkSecurityGroup")
            ids.append(_str(nsg, "id") if isinstance(nsg, Mapping) else _str(nic, "networkSecurityGroupId"))
    edges = [Edge(hub, canonical_asset_id(Cloud.AZURE, res.account_id, "", nsg_id), "security_group")
             for nsg_id in ids if nsg_id.lower().startswith("/subscriptions/")]
    complete: set[Relation] = {"security_group"} if "networkSecurityGroupId" in data else set()
    return edges, complete


def _host_names(alert: Alert, data: Mapping[str, Any]) -> list[str]:
    cloud = alert.resource.cloud
    if cloud is Cloud.AWS:
        dns = _str(data, "privateDnsName")
        return [dns, dns.split(".", 1)[0]] if dns else []
    if cloud is Cloud.AZURE:
        profile = data.get("osProfile")
        computer = _str(profile, "computerName") if isinstance(profile, Mapping) else ""
        return [n for n in (computer, _str(data, "name")) if n]
    name = _str(data, "name")
    return [name] if name else []


def host_aliases(alert: Alert, data: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The host asset ids a Compute record that knows only this instance's host name would build.

    Two forms per name: with the instance's cloud, account and region (a runtime audit or webhook
    that names them), and ``other::global:host/<name>`` (a record that names nothing else; the
    same private-IP name may then come from several accounts, which the resolver treats as
    ambiguous). Empty for anything but an instance with a configuration naming its host.
    """
    if not data or asset_kind(alert.resource.asset_id) != "instance":
        return ()
    res = alert.resource
    out: list[str] = []
    for name in dict.fromkeys(_host_names(alert, data)):
        for form in (canonical_asset_id(res.cloud, res.account_id, res.region, name, "host"),
                     canonical_asset_id(Cloud.OTHER, "", "", name, "host")):
            if form not in out:
                out.append(form)
    return tuple(out)


def _image_hosts(data: Mapping[str, Any]) -> Iterable[str]:
    hosts = data.get("hosts")
    if isinstance(hosts, list):
        yield from (h for h in hosts if isinstance(h, str) and h)
    elif isinstance(hosts, Mapping):
        yield from (h for h in hosts if isinstance(h, str) and h)


def derive(alert: Alert, data: Mapping[str, Any] | None) -> Derived:
    """Every link and alias ``alert``'s payload proves (see the module docstring); total, never raises."""
    if not data:
        return NOTHING
    kind = asset_kind(alert.resource.asset_id)
    if kind == "instance":
        cloud = alert.resource.cloud
        if cloud is Cloud.AWS:
            edges, complete = _aws_instance_edges(alert, data)
        elif cloud is Cloud.AZURE:
            edges, complete = _azure_instance_edges(alert, data)
        else:
            edges, complete = [], set()
        return Derived(tuple(dict.fromkeys(edges)), frozenset(complete), host_aliases(alert, data))
    if kind == "image" and "hosts" in data:
        image = alert.resource.asset_id
        names = list(dict.fromkeys(_image_hosts(data)))[:_MAX_HOSTS]
        edges = [Edge(canonical_asset_id(Cloud.OTHER, "", "", name, "host"), image, "runs_image") for name in names]
        return Derived(tuple(edges), frozenset({"runs_image"}))
    return NOTHING
