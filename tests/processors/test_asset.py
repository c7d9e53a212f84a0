"""Specification of the canonical asset id (processors/normalise/asset.py)."""

from __future__ import annotations

import pytest

from processors.models import Cloud
from processors.normalise.asset import (
    asset_kind,
    attached_instance,
    canonical_asset_id,
    host_key,
    normalise_region,
    parse_rrn,
    readable_kind,
)

ACCT = "123456789012"
INST = "i-0a1b2c3d4e5f60718"
WANT = f"aws:{ACCT}:us-east-1:instance/{INST}"


@pytest.mark.parametrize(
    ("resource_id", "kind_hint", "region"),
    [
        (INST, "INSTANCE", "us-east-1"),  # CSPM resource.id + resourceType
        (INST, "instance", "us-east-1"),  # Compute cloudMetadata.resourceID
        (INST, "", "us-east-1"),  # id prefix alone names the kind
        (f"rrn::instance:us-east-1:{ACCT}:9db2db5fdba47606863c8da86d3ae594fb5aee2b:{INST}", "", ""),
        (f"rrn::instance:us-east-1:{ACCT}:{INST}", "", ""),  # pan.dev form without the hash
        (f"arn:aws:ec2:us-east-1:{ACCT}:instance/{INST}", "", ""),
        (INST, "INSTANCE", "N. Virginia"),  # Compute #region display name
    ],
)
def test_one_instance_seen_every_way_gets_one_id(resource_id: str, kind_hint: str, region: str) -> None:
    assert canonical_asset_id(Cloud.AWS, ACCT, region, resource_id, kind_hint) == WANT


def test_rrn_with_url_encoded_arn() -> None:
    rrn = f"rrn::managedLb:us-east-1:{ACCT}:b38d6dff:arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A{ACCT}%3Aloadbalancer%2Fapp%2Fweb%2F50dc6c495c0c9188"
    assert canonical_asset_id(Cloud.AWS, "", "", rrn) == f"aws:{ACCT}:us-east-1:loadbalancer/app/web/50dc6c495c0c9188"


def test_global_kinds_ignore_region() -> None:
    a = canonical_asset_id(Cloud.AWS, ACCT, "us-east-1", "acme-public-assets", "STORAGE_BUCKET")
    b = canonical_asset_id(Cloud.AWS, "", "", "arn:aws:s3:::acme-public-assets")
    assert a == f"aws:{ACCT}:global:bucket/acme-public-assets"
    assert b == "aws::global:bucket/acme-public-assets"  # S3 ARNs carry no account
    role = canonical_asset_id(Cloud.AWS, ACCT, "us-east-1", f"arn:aws:iam::{ACCT}:role/web")
    assert role == f"aws:{ACCT}:global:role/web"


def test_security_group_and_volume_kinds() -> None:
    assert canonical_asset_id(Cloud.AWS, ACCT, "us-east-1", "sg-0123456789abcdef0", "SECURITY_GROUP").endswith(
        ":security-group/sg-0123456789abcdef0"
    )
    assert ":volume/vol-" in canonical_asset_id(Cloud.AWS, ACCT, "us-east-1", "vol-0123456789abcdef0")


def test_azure_ids_are_case_insensitive_and_regionless() -> None:
    rid = "/subscriptions/SUB-1/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/Web-1"
    a = canonical_asset_id(Cloud.AZURE, "sub-1", "eastus", rid, "VM")
    b = canonical_asset_id(Cloud.AZURE, "SUB-1", "East US", rid.lower())
    assert a == b == "azure:sub-1:global:instance/web-1"


def test_gcp_zone_collapses_to_region() -> None:
    assert normalise_region(Cloud.GCP, "us-central1-a") == "us-central1"
    a = canonical_asset_id(Cloud.GCP, "proj", "us-central1", "4567890123", "INSTANCE")
    b = canonical_asset_id(Cloud.GCP, "proj", "us-central1-b", "4567890123", "instance")
    assert a == b


def test_hostname_only_does_not_pretend_to_be_an_instance() -> None:
    hid = canonical_asset_id(Cloud.AWS, ACCT, "us-east-1", "ip-10-20-3-41.ec2.internal", "host")
    assert hid == f"aws:{ACCT}:us-east-1:host/ip-10-20-3-41.ec2.internal"


def test_parse_rrn_rejects_non_rrns() -> None:
    assert parse_rrn("arn:aws:s3:::b") is None
    assert parse_rrn("rrn::x:y") is None
    assert parse_rrn("rrn::storageBucket:us-east-1:123:test-bucket") == ("storageBucket", "us-east-1", "123", "test-bucket")


def test_attached_instance_moves_single_attachments_only() -> None:
    assert attached_instance("volume", {"attachments": [{"instanceId": INST, "state": "attached"}]}) == INST
    assert attached_instance("network-interface", {"attachment": {"instanceId": INST}}) == INST
    two = {"attachments": [{"instanceId": INST}, {"instanceId": "i-0fffffffffffffff0"}]}
    assert attached_instance("volume", two) is None
    assert attached_instance("instance", {"instanceId": INST}) is None
    assert attached_instance("security-group", {"ipPermissions": []}) is None


@pytest.mark.parametrize(("hint", "kind"), [
    ("MANAGED_DB", "managed-db"),
    ("Managed Storage Bucket", "bucket"),  # an alias
    ("Managed Kubernetes Cluster", "managed-kubernetes-cluster"),
    ("dbInstance", "db-instance"),
    ("AWS_RDS_DB_CLUSTER", "aws-rds-db-cluster"),
    ("", "resource"),
])
def test_resource_types_stay_readable_words_in_asset_ids(hint: str, kind: str) -> None:
    asset = canonical_asset_id(Cloud.AWS, ACCT, "us-east-1", "db-7", hint)
    assert asset.split(":", 3)[3] == f"{kind}/db-7"


def test_readable_kind_never_splits_capitals_letter_by_letter() -> None:
    assert readable_kind("MANAGED_DB") == "managed-db"
    assert readable_kind("IAMRole") == "iamrole"
    assert asset_kind(f"aws:{ACCT}:us-east-1:managed-db/db-7") == "managed-db"


def test_host_key_keeps_private_ip_hostnames_of_two_accounts_apart() -> None:
    host = "ip-10-0-1-5.ec2.internal"
    assert host_key(ACCT, host) == f"{ACCT}:{host}"
    assert host_key("210987654321", host) != host_key(ACCT, host)
    assert host_key("", host) == host  # nothing better is known
