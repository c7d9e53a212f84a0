"""Payload builders for processor tests, shaped after the reference's examples.

Each builder returns a fresh dict (mutate freely) that looks like what Prisma Cloud sends:
``cspm_alert`` ≈ reference §2.6, ``cspm_webhook_item`` ≈ §7.2, ``compute_*`` ≈ §6.3-6.6 and
``compute_webhook_*`` ≈ §7.3. ``raw(...)`` wraps a payload in a :class:`RawAlert`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from processors.models import AlertSource, RawAlert

ACCOUNT = "123456789012"
INSTANCE = "i-0a1b2c3d4e5f60718"
HOSTNAME = "ip-10-20-3-41.ec2.internal"
IMAGE_ID = "sha256:4b9a0e1f2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7"
KEV_CVE = "CVE-2023-44487"  # HTTP/2 Rapid Reset: in KEV
CURL_CVE = "CVE-2023-38545"
GLIBC_CVE = "CVE-2019-25013"
RECEIVED = datetime(2024, 6, 10, 14, 5, tzinfo=UTC)
T0_MS = 1718010131000


def raw(source: AlertSource | str, payload: Any, *, alert_id: str = "P-1", received_at: datetime = RECEIVED) -> RawAlert:
    """Wrap a payload (dict/list, or already-serialised text) in a RawAlert."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return RawAlert(
        ingest_id=str(uuid.UUID(int=hash(text) & (2**128 - 1))),
        source=AlertSource(source),
        source_alert_id=alert_id,
        received_at=received_at,
        payload_json=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def cspm_alert(
    *,
    alert_id: str = "P-2741093",
    status: str = "open",
    severity: str = "high",
    policy_type: str = "config",
    policy_id: str = "5a1f0c2e-8d3b-4f7a-9c61-2e4b7d9a0f13",
    policy_name: str = "AWS S3 bucket publicly readable via ACL or bucket policy",
    resource_id: str = "acme-public-assets",
    resource_type: str = "STORAGE_BUCKET",
    rrn_type: str = "storageBucket",
    region: str = "us-east-1",
    account: str = ACCOUNT,
    tags: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
    last_seen: int = T0_MS,
    cloud: str = "aws",
) -> dict[str, Any]:
    """A ``/v2/alert?detailed=true`` item (reference §2.6), trimmed of optional blocks."""
    if data is None:
        data = {
            "bucketName": resource_id,
            "acl": {"grants": [{"grantee": "AllUsers", "permission": "READ"}]},
            "policyStatus": {"isPublic": True},
            "publicAccessBlockConfiguration": None,
        }
    return {
        "id": alert_id,
        "status": status,
        "reason": "NEW_ALERT",
        "firstSeen": T0_MS,
        "lastSeen": last_seen,
        "alertTime": T0_MS,
        "lastUpdated": last_seen,
        "policyId": policy_id,
        "history": [{"modifiedBy": "Prisma Cloud", "modifiedOn": T0_MS, "reason": "NEW_ALERT", "status": "open"}],
        "policy": {
            "policyId": policy_id,
            "name": policy_name,
            "policyType": policy_type,
            "policySubTypes": ["run"],
            "systemDefault": True,
            "description": "This policy identifies S3 buckets that are readable by anyone on the internet.",
            "severity": severity,
            "recommendation": "Enable 'Block all public access'.",
            "complianceMetadata": [
                {"standardName": "CIS v1.4.0 (AWS)", "requirementId": "Storage", "sectionId": "2.1.5"},
                {"standardName": "PCI DSS v3.2.1", "requirementId": "1", "sectionId": "1.3"},
            ],
            "labels": ["CSPM"],
            "remediable": True,
        },
        "resource": {
            "rrn": f"rrn::{rrn_type}:{region}:{account}:3f9c0a7e1b2d4c5f6a7b8c9d0e1f2a3b4c5d6e7f:{resource_id}",
            "id": resource_id,
            "name": resource_id,
            "account": "acme-prod",
            "accountId": account,
            "region": "AWS Virginia",
            "regionId": region,
            "resourceType": resource_type,
            "cloudType": cloud,
            "resourceTags": tags if tags is not None else {"env": "prod", "owner": "web-team"},
            "data": data,
        },
    }


class _Policy(NamedTuple):
    """The policy side of an example CSPM alert (the keywords of :func:`cspm_alert` it sets)."""

    alert_id: str
    policy_type: str
    policy_id: str
    policy_name: str
    severity: str


class _Resource(NamedTuple):
    """The resource an example CSPM alert is reported on: its id, Prisma resource type and RRN type."""

    resource_id: str
    resource_type: str
    rrn_type: str


# The attack path of the graph tests: an exposed instance, its over-permissive role, its open
# security group, and a low-severity finding on the same instance.
_EXPOSED_ON_SSH = _Policy("P-3000001", "network", "b82f90ce-ed8b-4b49-970c-2268b0a6c2e5", "AWS EC2 instance exposed to internet on SSH", "high")
_IAM_WRITE = _Policy("P-3000002", "iam", "c3e1d0aa-1111-4c2b-9d3e-000000000001", "AWS EC2 instance with IAM write permissions", "medium")
_ROLE_ADMIN = _Policy("P-3000003", "iam", "c3e1d0aa-1111-4c2b-9d3e-000000000007", "AWS IAM role with administrative permissions (*:*)", "high")
_SSH_OPEN = _Policy("P-3000004", "network", "a9b8c7d6-2222-4e5f-8a9b-000000000003", "AWS Security Group allows all traffic on SSH port (22)", "medium")
_NO_IMDSV2 = _Policy("P-3000005", "config", "d4c3b2a1-3333-4f6e-9d8c-000000000011", "AWS EC2 instance not configured with Instance Metadata Service v2 (IMDSv2)", "low")
_ON_INSTANCE = _Resource(INSTANCE, "INSTANCE", "instance")


def _cspm_example(policy: _Policy, on: _Resource, data: dict[str, Any], kw: dict[str, Any]) -> dict[str, Any]:
    """:func:`cspm_alert` of ``policy`` on ``on`` with resource ``data``; ``kw`` overrides any keyword,
    ``data`` included."""
    return cspm_alert(**{**policy._asdict(), **on._asdict(), "data": data, **kw})


def cspm_instance_alert(**kw: Any) -> dict[str, Any]:
    """A network alert on an EC2 instance with a public IP and an open security group."""
    return _cspm_example(_EXPOSED_ON_SSH, _ON_INSTANCE, {
        "instanceId": INSTANCE,
        "publicIpAddress": "35.180.1.1",
        "securityGroups": [{"groupId": "sg-0123456789abcdef0", "groupName": "web"}],
        "iamInstanceProfile": {"arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/web"},
    }, kw)


def cspm_iam_alert(**kw: Any) -> dict[str, Any]:
    """A CIEM alert about the instance's over-permissive role, reported on the instance."""
    return _cspm_example(_IAM_WRITE, _ON_INSTANCE, {"instanceId": INSTANCE}, kw)


def security_group_data(cidr: str = "0.0.0.0/0", port: int = 22) -> dict[str, Any]:
    """``aws-ec2-describe-security-groups`` data with one ingress rule."""
    return {
        "groupId": "sg-0123456789abcdef0",
        "vpcId": "vpc-0a1b2c3d",
        "ipPermissions": [{"fromPort": port, "toPort": port, "ipProtocol": "tcp", "ipRanges": [{"cidrIp": cidr}]}],
    }


def cspm_webhook_item(**kw: Any) -> dict[str, Any]:
    """One element of the CSPM webhook array (reference §7.2)."""
    item: dict[str, Any] = {
        "alertId": "P-2741093",
        "alertStatus": "open",
        "reason": "NEW_ALERT",
        "alertRuleName": "Prod - all high and critical",
        "policyId": "5a1f0c2e-8d3b-4f7a-9c61-2e4b7d9a0f13",
        "policyName": "AWS S3 bucket publicly readable via ACL or bucket policy",
        "policyType": "config",
        "policyDescription": "This policy identifies S3 buckets that are readable by anyone on the internet.",
        "policyRecommendation": "Enable S3 Block Public Access on the bucket and remove public grants.",
        "severity": "high",
        "cloudType": "aws",
        "accountId": ACCOUNT,
        "accountName": "acme-prod",
        "resourceId": "acme-public-assets",
        "resourceName": "acme-public-assets",
        "resourceType": "Managed Storage Bucket",
        "resourceRegionId": "us-east-1",
        "resource": {
            "rrn": f"rrn::storageBucket:us-east-1:{ACCOUNT}:3f9c0a7e1b2d4c5f6a7b8c9d0e1f2a3b4c5d6e7f:acme-public-assets",
            "id": "acme-public-assets",
            "accountId": ACCOUNT,
            "regionId": "us-east-1",
            "cloudType": "aws",
            "resourceType": "STORAGE_BUCKET",
            "resourceTags": {"env": "prod"},
            "data": {"bucketName": "acme-public-assets", "policyStatus": {"isPublic": True}},
        },
        "tags": [{"key": "env", "value": "prod"}],
        "firstSeen": T0_MS,
        "lastSeen": T0_MS,
        "alertTs": T0_MS,
        "complianceMetadata": [{"standardName": "CIS v1.4.0 (AWS)", "requirementId": "Storage", "sectionId": "2.1.5"}],
        "source": "Prisma Cloud",
    }
    item.update(kw)
    return item


def compute_vuln(cve: str = CURL_CVE, severity: str = "critical", cvss: float = 9.8, package: str = "curl",
                 version: str = "7.88.1-10+deb12u1", status: str = "fixed in 7.88.1-10+deb12u4",
                 risk: tuple[str, ...] = ("Has fix", "Attack vector: network")) -> dict[str, Any]:
    """A ``vuln.Vulnerability`` record (reference §6.6)."""
    return {
        "id": 46, "cve": cve, "cvss": cvss, "severity": severity, "status": status,
        "packageName": package, "packageVersion": version, "packageType": "package",
        "published": 1697032800, "riskFactors": {r: {} for r in risk}, "type": "image",
    }


def compute_host_scan(vulns: list[dict[str, Any]] | None = None, *, instance: str = INSTANCE,
                      hostname: str = HOSTNAME, scan_time: str = "2024-06-10T09:05:00Z") -> dict[str, Any]:
    """A ``/hosts`` ImageScanResult for an EC2 host (reference §6.5); counts match the CVE list."""
    listed = vulns if vulns is not None else [
        compute_vuln(), compute_vuln(KEV_CVE, "high", 7.5, "nghttp2", "1.52.0-1", "fixed in 1.52.0-1+deb12u1")]
    return {
        "_id": hostname, "type": "host", "hostname": hostname, "scanTime": scan_time,
        "firstScanTime": "2024-06-01T09:05:00Z", "distro": "bookworm",
        "labels": ["env:prod", "team:payments"],
        "cloudMetadata": {"provider": "aws", "accountID": ACCOUNT, "region": "us-east-1",
                          "resourceID": instance, "name": "web-1", "type": "t3.large"},
        "vulnerabilities": listed,
        "vulnerabilitiesCount": len(listed),
        "vulnerabilityDistribution": _distribution(listed),
    }


def _distribution(vulns: list[dict[str, Any]]) -> dict[str, int]:
    """The ``vulnerabilityDistribution`` Compute reports beside a CVE list: counts per severity."""
    dist = {"critical": 0, "high": 0, "medium": 0, "low": 0}
    for v in vulns:
        band = {"important": "high", "moderate": "medium", "negligible": "low"}.get(v["severity"], v["severity"])
        if band in dist:
            dist[band] += 1
    return {**dist, "total": len(vulns)}


def compute_image_scan(vulns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ``/images`` ImageScanResult (reference §6.5)."""
    return {
        "_id": IMAGE_ID, "id": IMAGE_ID, "type": "image", "scanTime": "2024-06-10T09:05:00Z",
        "repoTag": {"registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "repo": "shop/checkout", "tag": "1.14.2"},
        "labels": ["app:checkout"],
        "cloudMetadata": {"provider": "aws", "accountID": ACCOUNT, "region": "us-east-1"},
        "vulnerabilities": vulns if vulns is not None else [compute_vuln(risk=("Reachable from the internet",))],
    }


def compute_audit(**kw: Any) -> dict[str, Any]:
    """A ``/audits/runtime/container`` record (reference §6.3)."""
    rec: dict[str, Any] = {
        "_id": "6666d9b1f0c2a14e7b3c9d10", "time": "2024-06-10T14:03:11.482Z", "hostname": HOSTNAME,
        "user": "root", "type": "processes", "containerId": "7d1e2f9ba1c5",
        "containerName": "/k8s_checkout", "imageName": "shop/checkout:1.14.2", "effect": "alert",
        "ruleName": "Default - alert on suspicious runtime behavior",
        "msg": "/usr/bin/curl launched but is not found in the runtime model.",
        "attackType": "cloudMetadataProbing", "severity": "high", "container": True,
        "provider": "aws", "region": "us-east-1", "accountID": ACCOUNT,
    }
    rec.update(kw)
    return rec


def compute_incident(**kw: Any) -> dict[str, Any]:
    """An ``/audits/incidents`` record (reference §6.4)."""
    rec: dict[str, Any] = {
        "_id": "6666da02f0c2a14e7b3c9d55", "time": "2024-06-10T14:03:12.010Z", "type": "container",
        "category": "hijackedProcess", "serialNum": 1842, "acknowledged": False, "hostname": HOSTNAME,
        "containerID": "7d1e2f9ba1c5", "containerName": "/k8s_checkout", "labels": {"app": "checkout", "team": "payments"},
        "provider": "aws", "region": "us-east-1", "accountID": ACCOUNT, "resourceID": INSTANCE,
        "audits": [
            {"_id": "a1", "type": "processes", "attackType": "cloudMetadataProbing", "severity": "high", "msg": "curl metadata"},
            {"_id": "a2", "type": "network", "attackType": "unexpectedOutboundPort", "severity": "medium", "msg": "port 4444"},
        ],
    }
    rec.update(kw)
    return rec


def compute_api(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """The compute_api envelope the Compute poller writes."""
    return {"kind": kind, "record": record}


_WEBHOOK_EMPTY: dict[str, Any] = {
    "container": "", "containerID": "", "image": "", "imageID": "", "tags": "", "host": "", "fqdn": "",
    "function": "", "region": "", "provider": "", "osRelease": "", "osDistro": "", "runtime": "",
    "appID": "", "rule": "", "message": "", "aggregatedAlerts": [], "dropped": 0, "forensics": "",
    "accountID": "", "category": "", "command": "", "startupProcess": "", "labels": {}, "collections": [],
    "complianceIssues": [], "vulnerabilities": [], "clusters": [], "namespaces": [], "accountIDs": [], "user": "",
}


def compute_webhook_runtime(**kw: Any) -> dict[str, Any]:
    """A Compute default-template body for a container runtime alert (reference §7.3)."""
    body = dict(_WEBHOOK_EMPTY)
    body.update({
        "type": "Container Runtime", "time": "Jun 10, 2024 14:03:11 UTC", "container": "/k8s_checkout",
        "containerID": "7d1e2f9ba1c5", "image": "shop/checkout:1.14.2", "imageID": IMAGE_ID,
        "host": HOSTNAME, "region": "us-east-1", "provider": "aws", "accountID": ACCOUNT,
        "rule": "Default - alert on suspicious runtime behavior",
        "message": "/usr/bin/curl launched but is not found in the runtime model.",
        "aggregatedAlerts": [{"time": "2024-06-10T14:03:11.482Z", "type": "processes", "severity": "high"}],
        "category": "cloudMetadataProbing", "labels": {"app": "checkout", "team": "payments"},
    })
    body.update(kw)
    return body


def compute_webhook_vulns(*entries: dict[str, Any]) -> dict[str, Any]:
    """A Compute default-template body for an image-vulnerability alert (reference §7.3)."""
    body = dict(_WEBHOOK_EMPTY)
    body["type"] = "Container Vulnerability"
    body["time"] = "Jun 10, 2024 09:05:00 UTC"
    body["vulnerabilities"] = list(entries) or [webhook_image_entry()]
    return body


def webhook_image_entry(image_id: str = IMAGE_ID) -> dict[str, Any]:
    return {
        "imageName": "shop/checkout:1.14.2", "imageID": image_id, "distribution": "Debian GNU/Linux 12",
        "labels": {"app": "checkout"}, "collections": ["All"],
        "newVulnerabilities": [
            {"severity": "Critical", "vulnerabilities": [
                {"cve": CURL_CVE, "severity": "critical", "status": "fixed in 7.88.1-10+deb12u4",
                 "packages": "curl,libcurl4", "packageVersion": "7.88.1-10+deb12u1", "sourcePackage": "curl"}]},
            {"severity": "Low", "vulnerabilities": [
                {"cve": GLIBC_CVE, "severity": "low", "status": "needed", "packages": "libc6",
                 "packageVersion": "2.36-9+deb12u4", "sourcePackage": "glibc"}]},
        ],
    }


ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/web"
SECURITY_GROUP = "sg-0123456789abcdef0"


def cspm_role_alert(**kw: Any) -> dict[str, Any]:
    """A CIEM alert on the IAM role itself (``aws-iam-list-roles`` resource), the role
    ``cspm_instance_alert``'s instance profile ``web`` carries."""
    return _cspm_example(_ROLE_ADMIN, _Resource(ROLE_ARN, "IAM_ROLE", "iamRole"),
                         {"role": {"arn": ROLE_ARN, "roleName": "web"}}, kw)


def cspm_security_group_alert(**kw: Any) -> dict[str, Any]:
    """A network alert on the instance's security group: SSH open to the world."""
    return _cspm_example(_SSH_OPEN, _Resource(SECURITY_GROUP, "SECURITY_GROUP", "securityGroup"),
                         security_group_data(), kw)


def instance_config(*, groups: tuple[str, ...] = (SECURITY_GROUP,), profile: str | None = "web",
                    private_dns: str = HOSTNAME, instance: str = INSTANCE) -> dict[str, Any]:
    """``aws-ec2-describe-instances`` data as Prisma keeps it in ``resource.data``, trimmed."""
    return {
        "instanceId": instance,
        "privateDnsName": private_dns,
        "privateIpAddress": "10.20.3.41",
        "securityGroups": [{"groupId": g, "groupName": "web"} for g in groups],
        "iamInstanceProfile": {"arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{profile}",
                               "id": "AIPAEXAMPLE"} if profile else None,
        "metadataOptions": {"httpTokens": "optional"},
    }


def cspm_imds_alert(**kw: Any) -> dict[str, Any]:
    """A low-severity config alert on the instance whose resource data is its full configuration."""
    return _cspm_example(_NO_IMDSV2, _ON_INSTANCE, instance_config(), kw)


def compute_webhook_host_vulns(hostname: str = HOSTNAME, account: str = "") -> dict[str, Any]:
    """A host-vulnerability body: one ``#vulnerabilities`` entry naming a host; Compute leaves the
    other macros (``#accountID`` included) empty for vulnerability alerts (reference §7.3)."""
    entry = {k: v for k, v in webhook_image_entry().items() if k not in ("imageName", "imageID")}
    body = compute_webhook_vulns({**entry, "hostname": hostname})
    body["type"] = "Host Vulnerability"
    body["accountID"] = account
    return body
