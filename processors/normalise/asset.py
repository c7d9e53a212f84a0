"""The canonical asset id: one name for one cloud asset, whichever module reports it.

Every normalised alert is keyed on ``prisma.alerts`` by its asset id, so dedupe and cross-module
correlation find everything about one asset in one partition. The id is::

    <cloud>:<account>:<region>:<kind>/<native id>

for example ``aws:123456789012:us-east-1:instance/i-0a1b2c3d4e5f60718``. The same EC2 instance
seen by CSPM (``resource.id`` ``i-…`` or an ``rrn::instance:…`` / ARN), by a Compute host scan
(``cloudMetadata.resourceID``) or by a Compute incident (``resourceID``) gets the same id.

Rules, in order:

1. An rrn or an ARN as resource id is parsed: account and region come from it when it names
   them. Globally named kinds (IAM roles/users/policies, S3 buckets, accounts) get region
   ``global``, so a view that knows the region and one that does not still agree.
2. A well-known AWS id prefix (``i-``, ``sg-``, ``vol-``, ``eni-``, ``vpc-``, ``subnet-``,
   ``ami-``, ``igw-``, ``nat-``) names the kind.
3. Otherwise the kind comes from the caller's hint (CSPM ``resourceType`` such as ``INSTANCE``,
   an rrn type such as ``storageBucket``, or a Compute record type such as ``host``), mapped by
   :data:`KIND_ALIASES`, else made readable by :func:`readable_kind` (``MANAGED_DB`` →
   ``managed-db``, ``dbInstance`` → ``db-instance``; words, never letter by letter).
4. Azure resource ids are case-insensitive and carry no region: they are lower-cased and the
   region part is ``global``; GCP zones (``us-central1-a``) collapse to their region.

What joins and what does not (documented in ``processors/normalise/README.md``):
an instance joins across CSPM and Compute when Compute knows the instance id (host scans,
incidents, audits with ``resourceID``); Compute records that only know a hostname get
``…:host/<hostname>`` here, which the pure normaliser cannot join with CSPM: the stream core
resolves them through the host aliases the CSPM instance's configuration announces
(:mod:`processors.graph`). Host names are qualified by their account wherever they make an alert id
(:func:`host_key`), since private-IP host names repeat across accounts. Security groups,
volumes and network interfaces are their own assets, except that :func:`attached_instance` lets
normalise move a finding onto the one instance its resource data names; the asset graph links
the rest (:mod:`processors.graph`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote

from processors.models import Cloud

__all__ = [
    "KIND_ALIASES",
    "RrnParts",
    "attached_instance",
    "canonical_asset_id",
    "asset_kind",
    "cloud_of",
    "host_key",
    "normalise_region",
    "parse_rrn",
    "readable_kind",
]

#: Maps provider type names (CSPM ``resourceType``, rrn types, Compute record types, ARN resource
#: types, Azure provider types) to the kind used in asset ids. Keys are lower-case, no separators.
KIND_ALIASES: Mapping[str, str] = {
    "instance": "instance",
    "ec2instance": "instance",
    "vm": "instance",
    "virtualmachine": "instance",
    "virtualmachines": "instance",
    "computeinstance": "instance",
    "instances": "instance",
    "securitygroup": "security-group",
    "securitygroups": "security-group",
    "networksecuritygroup": "security-group",
    "networksecuritygroups": "security-group",
    "storagebucket": "bucket",
    "managedstoragebucket": "bucket",
    "bucket": "bucket",
    "s3": "bucket",
    "storageaccounts": "bucket",
    "iamrole": "role",
    "role": "role",
    "iamuser": "user",
    "user": "user",
    "iampolicy": "policy",
    "policy": "policy",
    "instanceprofile": "instance-profile",
    "volume": "volume",
    "networkinterface": "network-interface",
    "networkinterfaces": "network-interface",
    "vpc": "vpc",
    "subnet": "subnet",
    "image": "image",
    "containerimage": "image",
    "pseudoresource": "account",
    "account": "account",
}

_AWS_PREFIX_KINDS: tuple[tuple[str, str], ...] = (
    ("i-", "instance"),
    ("sg-", "security-group"),
    ("vol-", "volume"),
    ("eni-", "network-interface"),
    ("vpc-", "vpc"),
    ("subnet-", "subnet"),
    ("ami-", "ami"),
    ("igw-", "internet-gateway"),
    ("nat-", "nat-gateway"),
)
_AWS_ID = re.compile(r"^(?:i|sg|vol|eni|vpc|subnet|ami|igw|nat)-[0-9a-f]{8,17}$")
_GLOBAL_SERVICES = frozenset({"iam", "s3", "cloudfront", "route53", "organizations", "sts"})
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")

_CLOUDS: Mapping[str, Cloud] = {
    "aws": Cloud.AWS,
    "amazon": Cloud.AWS,
    "azure": Cloud.AZURE,
    "gcp": Cloud.GCP,
    "google": Cloud.GCP,
    "oci": Cloud.OCI,
    "oracle": Cloud.OCI,
    "alibaba": Cloud.ALIBABA,
    "alibaba_cloud": Cloud.ALIBABA,
    "alibabacloud": Cloud.ALIBABA,
}

# Display names seen in Compute's #region macro ('N. Virginia') and CSPM's resource.region.
_AWS_REGION_NAMES: Mapping[str, str] = {
    "n. virginia": "us-east-1",
    "aws virginia": "us-east-1",
    "ohio": "us-east-2",
    "aws ohio": "us-east-2",
    "n. california": "us-west-1",
    "aws california": "us-west-1",
    "oregon": "us-west-2",
    "aws oregon": "us-west-2",
    "ireland": "eu-west-1",
    "aws ireland": "eu-west-1",
    "london": "eu-west-2",
    "aws london": "eu-west-2",
    "paris": "eu-west-3",
    "aws paris": "eu-west-3",
    "frankfurt": "eu-central-1",
    "aws frankfurt": "eu-central-1",
}


class RrnParts(NamedTuple):
    """The parts of a Prisma Cloud rrn (``rrn::<type>:<region>:<account>[:<hash>]:<id>``)."""

    rrn_type: str
    region: str
    account_id: str
    resource_id: str


def cloud_of(text: str) -> Cloud:
    """Map a provider word from any payload (``aws``, ``AWS``, ``alibaba``, ``others``) to :class:`Cloud`."""
    return _CLOUDS.get(text.strip().lower(), Cloud.OTHER)


def parse_rrn(rrn: str) -> RrnParts | None:
    """Split an rrn into its parts, or return None when the text is not an rrn.

    Both observed forms are accepted: with the 40-hex hash segment and without it. The resource
    id is URL-decoded (rrns carry ARNs as ``arn%3Aaws%3A…``).
    """
    if not rrn.startswith("rrn::"):
        return None
    parts = rrn[5:].split(":", 4)
    if len(parts) < 4:
        return None
    if len(parts) == 5:
        rrn_type, region, account, _hash, rid = parts
    else:
        rrn_type, region, account, rid = parts
    if not rid:
        return None
    return RrnParts(rrn_type, region, account, unquote(rid))


def normalise_region(cloud: Cloud, region: str) -> str:
    """Return the region code used in asset ids: lower-case, GCP zones collapsed, AWS display names mapped."""
    r = region.strip().lower()
    if not r:
        return "global"
    if cloud is Cloud.AZURE:
        return "global"
    if cloud is Cloud.AWS:
        return _AWS_REGION_NAMES.get(r, r)
    if cloud is Cloud.GCP:
        m = _GCP_ZONE.match(r)
        if m:
            return m.group(1)
    return r


def readable_kind(type_name: str) -> str:
    """A provider type name as a readable, lower-case kind: its words joined by hyphens.

    ``MANAGED_DB`` → ``managed-db``, ``Managed Storage Bucket`` → ``managed-storage-bucket``,
    ``dbInstance`` → ``db-instance``. Words are split at separators and at a lower-case letter or
    digit followed by a capital, never between two capitals, so upper-case names stay words.
    """
    spaced = _CAMEL_BOUNDARY.sub("-", type_name.strip())
    return _NOT_WORD.sub("-", spaced.lower()).strip("-") or "resource"


def _kind_of(hint: str) -> str:
    if not hint:
        return "resource"
    key = re.sub(r"[^a-z0-9]", "", hint.lower())
    alias = KIND_ALIASES.get(key)
    if alias is not None:
        return alias
    return readable_kind(hint)


def asset_kind(asset_id: str) -> str:
    """The kind part of a canonical asset id (``aws:1:us-east-1:instance/i-1`` → ``instance``)."""
    return asset_id.split(":", 3)[-1].split("/", 1)[0]


def host_key(account_id: str, hostname: str) -> str:
    """A host name made unique across accounts, for ids built from it: ``<account>:<hostname>``.

    Private-IP host names (``ip-10-0-1-5.ec2.internal``) repeat in every account, so a Compute
    finding id built from the host name alone would merge two accounts' hosts. Without an account
    (a Compute webhook leaves ``#accountID`` empty for vulnerability alerts) the bare host name is
    all there is.
    """
    account = account_id.strip()
    return f"{account}:{hostname}" if account else hostname


def _from_arn(arn: str) -> tuple[str, str, str, str] | None:
    """Return (account, region, kind, id) from an ARN, or None when malformed."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[2] or not parts[5]:
        return None
    _arn, _partition, service, region, account, resource = parts
    if service == "s3":
        return account, "global", "bucket", resource.split("/", 1)[0]
    sep = "/" if "/" in resource else (":" if ":" in resource else "")
    if sep:
        rtype, rid = resource.split(sep, 1)
    else:
        rtype, rid = service, resource
    kind = KIND_ALIASES.get(re.sub(r"[^a-z0-9]", "", rtype.lower()), rtype.lower())
    if service in _GLOBAL_SERVICES:
        region = "global"
    if rid.startswith(("i-", "sg-", "vol-")) and _AWS_ID.match(rid):
        kind = _aws_prefix_kind(rid) or kind
    return account, region, kind, rid


def _aws_prefix_kind(resource_id: str) -> str | None:
    if not _AWS_ID.match(resource_id):
        return None
    for prefix, kind in _AWS_PREFIX_KINDS:
        if resource_id.startswith(prefix):
            return kind
    return None


def canonical_asset_id(
    cloud: Cloud, account_id: str, region: str, resource_id: str, kind_hint: str = ""
) -> str:
    """Build the canonical asset id for one resource; deterministic and total for any input.

    Called by every normaliser with what its payload knows. ``kind_hint`` is the payload's own
    type name (``INSTANCE``, ``storageBucket``, ``host``, ``image``); it is used only when
    neither an ARN nor a well-known AWS id prefix names the kind. Never raises: an empty
    resource id yields ``…:<kind>/`` and is the caller's business to reject.
    """
    rid = resource_id.strip()
    account = account_id.strip()
    if rid.startswith("rrn::"):
        parts = parse_rrn(rid)
        if parts is not None:
            return canonical_asset_id(
                cloud, parts.account_id or account, parts.region or region, parts.resource_id, parts.rrn_type
            )
    if rid.startswith("arn:"):
        parsed = _from_arn(rid)
        if parsed is not None:
            a_acct, a_region, kind, native = parsed
            acct = a_acct or account
            reg = a_region or region
            if kind == "bucket":
                reg = "global"
            return f"{cloud.value}:{acct}:{normalise_region(cloud, reg)}:{kind}/{native}"
    if cloud is Cloud.AZURE and rid.startswith("/subscriptions/"):
        segs = [s for s in rid.lower().split("/") if s]
        sub = segs[1] if len(segs) > 1 else account.lower()
        kind = _kind_of(segs[-2]) if len(segs) >= 2 else "resource"
        return f"azure:{sub}:global:{kind}/{segs[-1]}"
    kind = (_aws_prefix_kind(rid) if cloud in (Cloud.AWS, Cloud.OTHER) else None) or _kind_of(kind_hint)
    if kind in ("bucket", "role", "user", "policy", "instance-profile", "account", "image"):
        region = ""  # global names: region would only split identical assets apart
    if cloud is Cloud.AZURE:
        rid, account = rid.lower(), account.lower()
    return f"{cloud.value}:{account}:{normalise_region(cloud, region)}:{kind}/{rid}"


_INSTANCE_KEYS: tuple[str, ...] = ("instanceId", "InstanceId", "attachedInstanceId")
_INSTANCE_LIST_KEYS: tuple[str, ...] = ("attachments", "Attachments", "instances", "attachedInstances")


def attached_instance(resource_kind: str, data: Mapping[str, Any] | None) -> str | None:
    """Return the one EC2 instance id that a non-instance resource's data names, else None.

    Used to move findings on an EBS volume or a network interface onto the instance they are
    attached to, so the instance's findings from every module meet. Security-group and IAM-role
    data from the AWS describe APIs do not list attached instances, so those stay on their own
    asset (documented gap). When more than one instance is named the resource is shared and
    no move is made.
    """
    if not data or resource_kind == "instance":
        return None
    found: set[str] = set()
    for key in _INSTANCE_KEYS:
        v = data.get(key)
        if isinstance(v, str) and v.startswith("i-"):
            found.add(v)
    attachment = data.get("attachment") or data.get("Attachment")
    if isinstance(attachment, Mapping):
        v = attachment.get("instanceId") or attachment.get("InstanceId")
        if isinstance(v, str) and v.startswith("i-"):
            found.add(v)
    for key in _INSTANCE_LIST_KEYS:
        items = data.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, str) and item.startswith("i-"):
                    found.add(item)
                elif isinstance(item, Mapping):
                    v = item.get("instanceId") or item.get("InstanceId")
                    if isinstance(v, str) and v.startswith("i-"):
                        found.add(v)
    if len(found) == 1:
        return found.pop()
    return None
