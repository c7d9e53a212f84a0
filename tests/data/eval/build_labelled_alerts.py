"""Build ``labelled_alerts.jsonl``: realistic scored alerts (through :mod:`tests.factories`) with
analyst-style labels. Run ``python tests/data/eval/build_labelled_alerts.py`` after changing a case.

The labels were written case by case as an analyst would triage them (priority from exposure,
environment and exploitability; false positives for intended-public or decommissioned resources and
findings without actionable content), not computed from the analyser, so agreement is a real measure.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from processors.models import (
    AlertStatus,
    Cloud,
    Criticality,
    Environment,
    Module,
    RiskTier,
    Severity,
    Vulnerability,
)
from tests.factories import (
    T0,
    make_alert,
    make_enrichment,
    make_resource_ref,
    make_scored_alert,
)

OUT = Path(__file__).resolve().parent / "labelled_alerts.jsonl"

_KINDS = {
    "aws_bucket": (Cloud.AWS, "aws-s3api-get-bucket-acl", "arn:aws:s3:::{name}"),
    "aws_sg": (Cloud.AWS, "aws-ec2-describe-security-groups", "sg-{hex}"),
    "aws_instance": (Cloud.AWS, "aws-ec2-describe-instances", "arn:aws:ec2:{region}:{account}:instance/i-{hex}"),
    "aws_role": (Cloud.AWS, "aws-iam-list-roles", "arn:aws:iam::{account}:role/{name}"),
    "aws_rds": (Cloud.AWS, "aws-rds-describe-db-instances", "arn:aws:rds:{region}:{account}:db:{name}"),
    "aws_trail": (Cloud.AWS, "aws-cloudtrail-describe-trails", "arn:aws:cloudtrail:{region}:{account}:trail/{name}"),
    "aws_account": (Cloud.AWS, "account-agg-entity", "{account}"),
    "azure_storage": (Cloud.AZURE, "azure-storage-account-list",
                      "/subscriptions/{sub}/resourceGroups/rg-{env}/providers/Microsoft.Storage/storageAccounts/{name}"),
    "azure_nsg": (Cloud.AZURE, "azure-network-nsg-list",
                  "/subscriptions/{sub}/resourceGroups/rg-{env}/providers/Microsoft.Network/networkSecurityGroups/{name}"),
    "azure_vm": (Cloud.AZURE, "azure-vm-list",
                 "/subscriptions/{sub}/resourceGroups/rg-{env}/providers/Microsoft.Compute/virtualMachines/{name}"),
    "gcp_bucket": (Cloud.GCP, "gcloud-storage-buckets-list", "{name}"),
    "gcp_firewall": (Cloud.GCP, "gcloud-compute-firewall-rules-list", "projects/acme-{env}-01/global/firewalls/{name}"),
    "gcp_instance": (Cloud.GCP, "gcloud-compute-instances-list", "projects/acme-{env}-01/zones/europe-west1-b/instances/{name}"),
}

_ACCOUNTS = {"prod": "123456789012", "staging": "210987654321", "dev": "345678901234", "test": "456789012345"}
_SUBS = {"prod": "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "staging": "7c2e9a10-3d4b-4c5e-8f60-1a2b3c4d5e6f",
         "dev": "9d8c7b6a-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "test": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}
_TIER_SCORE = {RiskTier.CRITICAL: 86, RiskTier.HIGH: 68, RiskTier.MEDIUM: 47, RiskTier.LOW: 22}

VULN = {
    "log4shell": Vulnerability(cve="CVE-2021-44228", cvss=10.0, package="org.apache.logging.log4j_log4j-core",
                               installed_version="2.14.1", fixed_version="2.15.0", epss=0.944, in_kev=True),
    "pwnkit": Vulnerability(cve="CVE-2021-4034", cvss=7.8, package="policykit-1", installed_version="0.105-31",
                            fixed_version="0.105-31+deb11u1", epss=0.86, in_kev=True),
    "curl": Vulnerability(cve="CVE-2023-38545", cvss=9.8, package="curl", installed_version="7.88.1-10+deb12u1",
                          fixed_version="7.88.1-10+deb12u4", epss=0.27),
    "zlib": Vulnerability(cve="CVE-2022-37434", cvss=9.8, package="zlib", installed_version="1:1.2.11.dfsg-2",
                          fixed_version="", epss=0.02),
    "openssl": Vulnerability(cve="CVE-2023-5363", cvss=7.5, package="openssl", installed_version="3.0.11-1~deb12u1",
                             fixed_version="3.0.11-1~deb12u2", epss=0.01),
    "http2": Vulnerability(cve="CVE-2023-44487", cvss=7.5, package="golang.org/x/net", installed_version="v0.15.0",
                           fixed_version="v0.17.0", epss=0.82, in_kev=True),
}


def case(n: int, kind: str, policy: str, ptype: str, severity: str, env: str, tier: RiskTier, label: tuple[str, bool, str],
         *, name: str = "", exposed: bool = False, config: dict[str, Any] | None = None, recommendation: str = "",
         description: str = "", vulns: tuple[str, ...] = (), module: Module = Module.CSPM, dismissal: bool = False,
         sensitivity: str = "internal", note: str = "") -> dict[str, Any]:
    cloud, rtype, template = _KINDS[kind]
    hexid = f"{n:04x}a1b2c3d4e5f60"[:17]
    name = name or f"{kind.split('_')[1]}-{env}-{n:02d}"
    region = {Cloud.AWS: "eu-west-1", Cloud.AZURE: "westeurope", Cloud.GCP: "europe-west1"}[cloud]
    account = _SUBS[env] if cloud is Cloud.AZURE else (f"acme-{env}-01" if cloud is Cloud.GCP else _ACCOUNTS[env])
    rid = template.format(name=name, hex=hexid, region=region, account=account, sub=_SUBS[env], env=env)
    resource = make_resource_ref(asset_id=f"{cloud.value}:{account}:{region}:{kind}:{name}", resource_id=rid,
                                 name=name, resource_type=rtype, cloud=cloud, account_id=account,
                                 account_name=f"acme-{env}", region=region,
                                 tags={"env": env, "team": "platform", "data-class": sensitivity})
    enrichment = make_enrichment(internet_exposed=exposed, exploitability=max((VULN[v].epss or 0) for v in vulns) if vulns else 0.0,
                                 in_kev=any(VULN[v].in_kev for v in vulns), environment=Environment(env),
                                 criticality=Criticality.HIGH if env == "prod" else Criticality.MEDIUM,
                                 data_sensitivity=sensitivity, owner="platform-team@example.com", team="platform",
                                 resource_config_json=json.dumps(config or {}))
    alert = make_alert(alert_id=f"P-{9000 + n}", module=module, policy_id="pol-" + hashlib.sha256(policy.encode()).hexdigest()[:12],
                       policy_name=policy, policy_type=ptype, severity=Severity(severity), status=AlertStatus.OPEN,
                       description=description, recommendation=recommendation, resource=resource, compliance=[],
                       vulnerabilities=[VULN[v] for v in vulns], enrichment=enrichment,
                       first_seen=T0 + timedelta(hours=n), last_seen=T0 + timedelta(hours=n + 2))
    scored = make_scored_alert(alert=alert, score=_TIER_SCORE[tier] + n % 5, tier=tier, incident_id=None,
                               incident_members=[], suggested_dismissal=dismissal,
                               suggestion_reason="dismissed before as intended configuration" if dismissal else "")
    priority, tp, family = label
    return {"scored": json.loads(scored.model_dump_json()),
            "label": {"priority": priority, "true_positive": tp, "remediation_family": family, "note": note}}


S3_PUBLIC = "AWS S3 bucket publicly readable via ACL or bucket policy"
S3_POLICY = "AWS S3 buckets are accessible to public via bucket policy"
SG_SSH = "AWS Security Group allows all traffic on SSH port (22)"
SG_RDP = "AWS Security Group allows all traffic on RDP port (3389)"
IMDS = "AWS EC2 instance not configured with Instance Metadata Service v2 (IMDSv2)"
ADMIN = "AWS EC2 instance with IAM role having administrative permissions (*:*)"
UNUSED = "AWS IAM role unused for 90 days"
RDS = "AWS RDS instance is not encrypted"
TRAIL = "AWS CloudTrail logging is disabled"
VULN_HOST = "Hosts with critical vulnerabilities that have known exploits"
VULN_IMAGE = "Images with vulnerabilities that have fixes"
RUNTIME = "Runtime incident detected on host"
AZ_BLOB = "Azure storage account has a blob container with public access"
AZ_NSG = "Azure Network Security Group allows all traffic on SSH port 22"
AZ_OWNER = "Azure Virtual Machine with managed identity having Owner role"
AZ_DIAG = "Azure diagnostic setting for Key Vault logging is disabled"
GCP_BUCKET = "GCP Storage buckets are publicly accessible to all users"
GCP_FW = "GCP Firewall rule allows internet traffic to SSH port (22)"
GCP_EDITOR = "GCP VM instance using a service account with Editor role"
OWNER_TAG = "AWS EC2 instance without an owner tag"
ROOT = "AWS root account activity detected"
C, H, M, L = RiskTier.CRITICAL, RiskTier.HIGH, RiskTier.MEDIUM, RiskTier.LOW
PUB = {"Grants": [{"Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}],
       "PublicAccessBlock": {"BlockPublicAcls": False, "RestrictPublicBuckets": False}}
SG22 = {"IpPermissions": [{"FromPort": 22, "ToPort": 22, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
SG3389 = {"IpPermissions": [{"FromPort": 3389, "ToPort": 3389, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
IMDS1 = {"MetadataOptions": {"HttpTokens": "optional", "HttpEndpoint": "enabled"}}
R_S3 = "Enable S3 Block Public Access on the bucket and remove public grants."
R_SG = "Restrict the SSH ingress rule to known CIDRs."

CASES = [
    case(1, "aws_bucket", S3_PUBLIC, "config", "high", "prod", C, ("P1", True, "public_storage"), exposed=True, config=PUB,
         recommendation=R_S3, sensitivity="confidential"),
    case(2, "aws_bucket", S3_PUBLIC, "config", "high", "prod", C, ("P1", True, "public_storage"), exposed=True, config=PUB,
         recommendation=R_S3, sensitivity="restricted", note="cardholder exports"),
    case(3, "aws_bucket", S3_PUBLIC, "config", "high", "dev", H, ("P3", True, "public_storage"), exposed=True, config=PUB,
         recommendation=R_S3, note="dev bucket, synthetic data: analyst lowers priority"),
    case(4, "aws_bucket", S3_PUBLIC, "config", "high", "prod", H, ("P4", False, "public_storage"), name="www-acme-static",
         exposed=True, config=PUB, recommendation=R_S3, dismissal=True, sensitivity="public",
         note="static website assets, approved public"),
    case(5, "aws_bucket", S3_POLICY, "config", "critical", "prod", C, ("P1", True, "public_storage"), exposed=True,
         config={"Policy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}},
         recommendation="Remove the public statement from the bucket policy.", sensitivity="confidential"),
    case(6, "aws_bucket", S3_POLICY, "config", "critical", "staging", H, ("P2", True, "public_storage"), exposed=True,
         config={"Policy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*"}]}},
         recommendation="Remove the public statement from the bucket policy."),
    case(7, "aws_sg", SG_SSH, "config", "high", "prod", C, ("P1", True, "open_ingress"), exposed=True, config=SG22,
         recommendation=R_SG),
    case(8, "aws_sg", SG_SSH, "config", "high", "prod", H, ("P2", True, "open_ingress"), exposed=True, config=SG22,
         recommendation=R_SG),
    case(9, "aws_sg", SG_SSH, "config", "high", "dev", H, ("P2", True, "open_ingress"), exposed=True, config=SG22,
         recommendation=R_SG),
    case(10, "aws_sg", SG_SSH, "config", "high", "test", M, ("P3", True, "open_ingress"), config=SG22, recommendation=R_SG),
    case(11, "aws_sg", SG_RDP, "config", "high", "prod", C, ("P1", True, "open_ingress"), exposed=True, config=SG3389,
         recommendation="Restrict the RDP ingress rule to known CIDRs."),
    case(12, "aws_sg", SG_SSH, "config", "high", "staging", H, ("P3", False, "open_ingress"), config=SG22, dismissal=True,
         recommendation=R_SG, note="group attached to nothing, scheduled for deletion"),
    case(13, "aws_instance", IMDS, "config", "medium", "prod", H, ("P2", True, "instance_metadata"), exposed=True,
         config=IMDS1, recommendation="Require IMDSv2 (HttpTokens=required)."),
    case(14, "aws_instance", IMDS, "config", "medium", "prod", M, ("P3", True, "instance_metadata"), config=IMDS1,
         recommendation="Require IMDSv2 (HttpTokens=required)."),
    case(15, "aws_instance", IMDS, "config", "medium", "dev", L, ("P4", True, "instance_metadata"), config=IMDS1,
         recommendation="Require IMDSv2 (HttpTokens=required)."),
    case(16, "aws_instance", IMDS, "config", "medium", "staging", M, ("P3", True, "instance_metadata"), config=IMDS1,
         recommendation="Require IMDSv2 (HttpTokens=required)."),
    case(17, "aws_instance", ADMIN, "iam", "critical", "prod", C, ("P1", True, "iam_over_permission"), exposed=True,
         config={"IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/app-admin"}},
         recommendation="Replace the role policy with least-privilege permissions."),
    case(18, "aws_instance", ADMIN, "iam", "critical", "dev", H, ("P2", True, "iam_over_permission"),
         recommendation="Replace the role policy with least-privilege permissions."),
    case(19, "aws_role", UNUSED, "iam", "low", "prod", L, ("P4", True, "iam_over_permission"),
         recommendation="Delete the role if it is no longer needed."),
    case(20, "aws_role", UNUSED, "iam", "low", "prod", M, ("P4", False, "iam_over_permission"), dismissal=True,
         recommendation="Delete the role if it is no longer needed.", note="break-glass role, unused by design"),
    case(21, "aws_rds", RDS, "config", "medium", "prod", H, ("P2", True, "unencrypted_data_store"),
         config={"StorageEncrypted": False, "Engine": "postgres"}, recommendation="Snapshot, copy with encryption and restore.",
         sensitivity="confidential"),
    case(22, "aws_rds", RDS, "config", "medium", "staging", M, ("P3", True, "unencrypted_data_store"),
         config={"StorageEncrypted": False, "Engine": "mysql"}, recommendation="Snapshot, copy with encryption and restore."),
    case(23, "aws_rds", RDS, "config", "medium", "dev", L, ("P4", True, "unencrypted_data_store"),
         config={"StorageEncrypted": False, "Engine": "postgres"}, recommendation="Snapshot, copy with encryption and restore."),
    case(24, "aws_trail", TRAIL, "config", "high", "prod", H, ("P1", True, "logging_disabled"),
         config={"IsLogging": False, "IsMultiRegionTrail": True}, recommendation="Enable logging on the trail.",
         note="possible defence evasion: analyst raises"),
    case(25, "aws_trail", TRAIL, "config", "high", "dev", M, ("P3", True, "logging_disabled"),
         config={"IsLogging": False}, recommendation="Enable logging on the trail."),
    case(26, "aws_instance", VULN_HOST, "workload_vulnerability", "critical", "prod", C, ("P1", True, "vulnerable_packages"),
         module=Module.CWPP, exposed=True, vulns=("pwnkit", "curl"), recommendation="Patch the packages listed by Prisma Cloud Compute."),
    case(27, "aws_instance", VULN_HOST, "workload_vulnerability", "critical", "prod", C, ("P1", True, "vulnerable_packages"),
         module=Module.CWPP, exposed=True, vulns=("log4shell",), recommendation="Patch the packages listed by Prisma Cloud Compute."),
    case(28, "aws_instance", VULN_HOST, "workload_vulnerability", "high", "staging", H, ("P2", True, "vulnerable_packages"),
         module=Module.CWPP, vulns=("openssl", "curl"), recommendation="Patch the packages listed by Prisma Cloud Compute."),
    case(29, "aws_instance", VULN_IMAGE, "workload_vulnerability", "high", "prod", H, ("P2", True, "vulnerable_packages"),
         module=Module.CWPP, vulns=("http2",), recommendation="Rebuild the image with fixed packages."),
    case(30, "aws_instance", VULN_IMAGE, "workload_vulnerability", "medium", "dev", L, ("P4", True, "vulnerable_packages"),
         module=Module.CWPP, vulns=("openssl",), recommendation="Rebuild the image with fixed packages."),
    case(31, "aws_instance", VULN_HOST, "workload_vulnerability", "critical", "prod", H, ("P2", True, "vulnerable_packages"),
         module=Module.CWPP, vulns=("zlib", "curl"), recommendation="Patch the packages listed by Prisma Cloud Compute."),
    case(32, "aws_instance", RUNTIME, "workload_incident", "high", "prod", C, ("P1", True, "runtime_incident"),
         module=Module.CWPP, exposed=True, description="/tmp/xmrig launched and is detected as a crypto miner.",
         recommendation="Investigate the incident in Runtime > Incident Explorer."),
    case(33, "aws_instance", RUNTIME, "workload_incident", "high", "prod", C, ("P1", True, "runtime_incident"),
         module=Module.CWPP, description="/bin/bash launched as a reverse shell to 198.51.100.23:443.",
         recommendation="Investigate the incident in Runtime > Incident Explorer."),
    case(34, "aws_instance", RUNTIME, "workload_incident", "medium", "staging", M, ("P3", False, "runtime_incident"),
         module=Module.CWPP, description="SSH login from 192.0.2.10 as ec2-user.", dismissal=True,
         recommendation="Investigate the incident in Runtime > Incident Explorer.", note="known bastion login"),
    case(35, "aws_instance", RUNTIME, "workload_incident", "high", "prod", C, ("P1", True, "runtime_incident"),
         module=Module.CWPP, exposed=True,
         description="/usr/bin/curl launched but is not found in the runtime model. Full command: curl "
                     "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
         recommendation="Investigate the incident in Runtime > Incident Explorer."),
    case(36, "azure_storage", AZ_BLOB, "config", "high", "prod", C, ("P1", True, "public_storage"), name="stacmeprodexports",
         exposed=True, config={"allowBlobPublicAccess": True}, recommendation="Set the container's public access level to private.",
         sensitivity="confidential"),
    case(37, "azure_storage", AZ_BLOB, "config", "high", "dev", M, ("P3", True, "public_storage"), name="stacmedevscratch",
         exposed=True, config={"allowBlobPublicAccess": True}, recommendation="Set the container's public access level to private."),
    case(38, "azure_nsg", AZ_NSG, "config", "high", "prod", H, ("P2", True, "open_ingress"), exposed=True,
         config={"securityRules": [{"destinationPortRange": "22", "sourceAddressPrefix": "*", "access": "Allow"}]},
         recommendation="Restrict the NSG rule's source to known addresses."),
    case(39, "azure_vm", AZ_OWNER, "iam", "high", "prod", H, ("P2", True, "iam_over_permission"),
         recommendation="Scope the role assignment down."),
    case(40, "azure_vm", AZ_DIAG, "config", "medium", "prod", M, ("P3", True, "logging_disabled"),
         config={"diagnosticSettings": []}, recommendation="Create a diagnostic setting that sends AuditEvent logs to Log Analytics."),
    case(41, "gcp_bucket", GCP_BUCKET, "config", "critical", "prod", C, ("P1", True, "public_storage"), name="acme-prod-reports",
         exposed=True, config={"iamConfiguration": {"publicAccessPrevention": "inherited"}, "bindings": [{"members": ["allUsers"]}]},
         recommendation="Remove allUsers and allAuthenticatedUsers bindings.", sensitivity="confidential"),
    case(42, "gcp_bucket", GCP_BUCKET, "config", "critical", "prod", H, ("P4", False, "public_storage"), name="acme-public-downloads",
         exposed=True, config={"bindings": [{"members": ["allUsers"]}]}, dismissal=True, sensitivity="public",
         recommendation="Remove allUsers and allAuthenticatedUsers bindings.", note="public installer downloads"),
    case(43, "gcp_firewall", GCP_FW, "config", "high", "prod", H, ("P2", True, "open_ingress"), name="allow-ssh-all",
         exposed=True, config={"sourceRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]},
         recommendation="Restrict sourceRanges of the rule."),
    case(44, "gcp_firewall", GCP_FW, "config", "high", "test", M, ("P3", True, "open_ingress"), name="allow-ssh-test",
         config={"sourceRanges": ["0.0.0.0/0"]}, recommendation="Restrict sourceRanges of the rule."),
    case(45, "gcp_instance", GCP_EDITOR, "iam", "medium", "prod", M, ("P3", True, "iam_over_permission"),
         recommendation="Use a dedicated least-privilege service account."),
    case(46, "aws_instance", OWNER_TAG, "config", "informational", "prod", L, ("P4", False, "none"),
         note="hygiene, not a security exposure"),
    case(47, "aws_account", ROOT, "audit_event", "high", "prod", H, ("P2", True, "none"),
         recommendation="Investigate the call; use IAM users or roles instead of root."),
    case(48, "aws_instance", "Custom policy: cost-center label drift", "config", "low", "dev", L, ("P4", False, "none"),
         note="custom hygiene policy without recommendation"),
]


def main() -> None:
    OUT.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in CASES))
    print(f"wrote {len(CASES)} labelled alerts to {OUT}")


if __name__ == "__main__":
    main()
