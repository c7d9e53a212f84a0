"""Static vocabulary of the simulated estate: regions, resource kinds, policies, CVEs, runtime rules.

Policy names, API names, resource types, compliance standards and reasons follow the values
documented in ``prisma-cloud-api.md`` (sections 2.5, 3.4, 5.2, 6.3-6.6); ids are made up.
CVE ids are real; :data:`KEV_CVES` are listed in CISA's Known Exploited Vulnerabilities catalogue
(the shipped catalogue in ``processors/enrich/data/``), :data:`OTHER_CVES` are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CVES",
    "KEV_CVES",
    "OTHER_CVES",
    "POLICIES",
    "REGIONS",
    "RESOURCE_KINDS",
    "CveSpec",
    "PolicySpec",
    "ResourceKind",
]

#: regionId -> display name, per cloud (``resource.region`` carries the display name).
REGIONS: dict[str, dict[str, str]] = {
    "aws": {
        "us-east-1": "AWS Virginia",
        "us-west-2": "AWS Oregon",
        "eu-west-1": "AWS Ireland",
        "eu-west-3": "AWS Paris",
    },
    "azure": {"eastus": "Azure East US", "westeurope": "Azure West Europe"},
    "gcp": {"us-central1": "GCP Iowa", "europe-west1": "GCP Belgium"},
}


@dataclass(frozen=True)
class ResourceKind:
    """One kind of cloud resource as CSPM inventories it (``api.name`` in RQL)."""

    key: str
    cloud: str
    api_name: str
    resource_type: str
    service: str
    rrn_type: str
    label: str  # the human label CSPM webhooks put into ``resourceType``


RESOURCE_KINDS: dict[str, ResourceKind] = {
    k.key: k
    for k in (
        ResourceKind("aws_instance", "aws", "aws-ec2-describe-instances", "INSTANCE",
                     "Amazon EC2", "instance", "Instance"),
        ResourceKind("aws_sg", "aws", "aws-ec2-describe-security-groups", "SECURITY_GROUP",
                     "Amazon VPC", "securityGroup", "Security Group"),
        ResourceKind("aws_bucket", "aws", "aws-s3api-get-bucket-acl", "STORAGE_BUCKET",
                     "Amazon S3", "storageBucket", "Managed Storage Bucket"),
        ResourceKind("aws_role", "aws", "aws-iam-list-roles", "IAM_ROLE", "AWS IAM", "iamRole",
                     "IAM Role"),
        ResourceKind("aws_rds", "aws", "aws-rds-describe-db-instances", "MANAGED_DB",
                     "Amazon RDS", "managedDb", "Managed Database"),
        ResourceKind("aws_account", "aws", "account-agg-entity", "PSEUDO_RESOURCE", "AWS IAM",
                     "account", "Account"),
        ResourceKind("azure_vm", "azure", "azure-vm-list", "INSTANCE", "Azure Virtual Machines",
                     "instance", "Virtual Machine"),
        ResourceKind("azure_nsg", "azure", "azure-network-nsg-list", "SECURITY_GROUP",
                     "Azure Virtual Network", "securityGroup", "Network Security Group"),
        ResourceKind("azure_storage", "azure", "azure-storage-account-list", "STORAGE_ACCOUNT",
                     "Azure Storage", "storageAccount", "Storage Account"),
        ResourceKind("gcp_instance", "gcp", "gcloud-compute-instances-list", "INSTANCE",
                     "Google Compute Engine", "instance", "Instance"),
        ResourceKind("gcp_firewall", "gcp", "gcloud-compute-firewall-rules-list", "FIREWALL",
                     "Google VPC", "firewall", "Firewall Rule"),
        ResourceKind("gcp_bucket", "gcp", "gcloud-storage-buckets-list", "STORAGE_BUCKET",
                     "Google Cloud Storage", "storageBucket", "Managed Storage Bucket"),
        ResourceKind("gcp_sa", "gcp", "gcloud-iam-service-accounts-list", "SERVICE_ACCOUNT",
                     "Google Cloud IAM", "serviceAccount", "Service Account"),
    )
}

_CIS_AWS = ("CIS v1.4.0 (AWS)", "CIS Amazon Web Services Foundations Benchmark v 1.4.0")
_PCI = ("PCI DSS v3.2.1", "Payment Card Industry Data Security Standard version 3.2.1")
_NIST = ("NIST 800-53 Rev4", "NIST Special Publication 800-53 Revision 4")
_ISO = ("ISO 27001:2013", "ISO/IEC 27001:2013 Information security management")
_MITRE = ("MITRE ATT&CK v8.2", "MITRE ATT&CK Enterprise v8.2")


@dataclass(frozen=True)
class PolicySpec:
    """One simulated policy and the resource kind it fires on."""

    policy_id: str
    name: str
    policy_type: str
    severity: str
    kind: str
    subtypes: tuple[str, ...] = ("run",)
    description: str = ""
    recommendation: str = ""
    labels: tuple[str, ...] = ()
    compliance: tuple[tuple[tuple[str, str], str, str, str], ...] = ()
    cli_template: str | None = None
    cli_description: str = ""
    search_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def remediable(self) -> bool:
        return self.cli_template is not None


def _p(n: int) -> str:
    return f"5a1f0c2e-8d3b-4f7a-9c61-{n:012x}"


POLICIES: dict[str, PolicySpec] = {
    p.policy_id: p
    for p in (
        PolicySpec(
            _p(1), "AWS S3 bucket publicly readable via ACL or bucket policy", "config", "high",
            "aws_bucket",
            description="Identifies S3 buckets readable by anyone on the internet.",
            recommendation="Enable S3 Block Public Access on the bucket and remove public grants.",
            labels=("CSPM",),
            compliance=((_CIS_AWS, "Storage", "2.1.5", "Ensure S3 Block public access"),
                        (_PCI, "1", "1.3", "Prohibit direct public access")),
            cli_template="aws s3api put-public-access-block --bucket ${resourceName} --region "
            "${region} --public-access-block-configuration BlockPublicAcls=true,"
            "IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
            cli_description="Requires s3:PutBucketPublicAccessBlock.",
        ),
        PolicySpec(
            _p(2), "AWS S3 buckets are accessible to public via bucket policy", "config",
            "critical", "aws_bucket",
            description="Bucket policy grants access to Principal '*'.",
            recommendation="Remove the public statement from the bucket policy.",
            compliance=((_NIST, "AC", "AC-3", "Access Enforcement"),),
        ),
        PolicySpec(
            _p(3), "AWS Security Group allows all traffic on SSH port (22)", "config", "high",
            "aws_sg",
            description="Security group allows inbound 0.0.0.0/0 on port 22.",
            recommendation="Restrict the SSH ingress rule to known CIDRs.",
            compliance=((_CIS_AWS, "Networking", "5.2", "No 0.0.0.0/0 ingress to port 22"),),
            cli_template="aws ec2 revoke-security-group-ingress --group-id ${resourceId} "
            "--region ${region} --protocol tcp --port 22 --cidr 0.0.0.0/0",
            cli_description="Requires ec2:RevokeSecurityGroupIngress.",
        ),
        PolicySpec(
            _p(4), "AWS EC2 instance not configured with Instance Metadata Service v2 (IMDSv2)",
            "config", "medium", "aws_instance",
            description="IMDSv1 lets SSRF read instance credentials.",
            recommendation="Require IMDSv2 (HttpTokens=required).",
            cli_template="aws ec2 modify-instance-metadata-options --instance-id ${resourceId} "
            "--region ${region} --http-tokens required --http-endpoint enabled",
            cli_description="Requires ec2:ModifyInstanceMetadataOptions.",
        ),
        PolicySpec(
            _p(5), "AWS RDS instance is not encrypted", "config", "medium", "aws_rds",
            description="Storage encryption is off for the database instance.",
            recommendation="Snapshot, copy with encryption and restore.",
            compliance=((_PCI, "3", "3.4", "Render PAN unreadable"),),
        ),
        PolicySpec(
            _p(6), "AWS EC2 instance reachable from untrust internet source on SSH port (22)",
            "network", "high", "aws_instance", subtypes=("network_config",),
            description="Network path from the internet to the instance on TCP 22.",
            recommendation="Remove the internet route or restrict the security group.",
            labels=("Network",),
        ),
        PolicySpec(
            _p(7), "AWS EC2 instance with IAM role having administrative permissions (*:*)",
            "iam", "critical", "aws_instance", subtypes=("permissions",),
            description="The instance profile role allows every action on every resource.",
            recommendation="Replace the role policy with least-privilege permissions.",
            compliance=((_MITRE, "TA0004", "T1078", "Valid Accounts"),),
        ),
        PolicySpec(
            _p(8), "AWS IAM role unused for 90 days", "iam", "low", "aws_role",
            subtypes=("permissions",),
            description="The role has not been assumed for 90 days.",
            recommendation="Delete the role if it is no longer needed.",
        ),
        PolicySpec(
            _p(9), "AWS root account activity detected", "audit_event", "high", "aws_account",
            subtypes=("audit",),
            description="An API call was made with the root user's credentials.",
            recommendation="Investigate the call; use IAM users or roles instead of root.",
            compliance=((_CIS_AWS, "Monitoring", "4.3", "Monitor usage of root account"),),
        ),
        PolicySpec(
            _p(10), "Azure Network Security Group allows all traffic on SSH port 22", "config",
            "high", "azure_nsg",
            description="NSG rule allows inbound SSH from Internet/Any.",
            recommendation="Restrict the NSG rule's source to known addresses.",
            compliance=((_ISO, "A.13", "A.13.1.1", "Network controls"),),
        ),
        PolicySpec(
            _p(11), "Azure storage account has a blob container with public access", "config",
            "high", "azure_storage",
            description="A container allows anonymous read access.",
            recommendation="Set the container's public access level to private.",
        ),
        PolicySpec(
            _p(12), "Azure Virtual Machine with managed identity having Owner role", "iam",
            "high", "azure_vm", subtypes=("permissions",),
            description="The VM's identity holds Owner on the subscription.",
            recommendation="Scope the role assignment down.",
        ),
        PolicySpec(
            _p(13), "GCP Firewall rule allows internet traffic to SSH port (22)", "config",
            "high", "gcp_firewall",
            description="Firewall rule allows 0.0.0.0/0 on tcp:22.",
            recommendation="Restrict sourceRanges of the rule.",
            cli_template="gcloud compute firewall-rules update ${resourceName} "
            "--source-ranges=10.0.0.0/8",
            cli_description="Requires compute.firewalls.update.",
        ),
        PolicySpec(
            _p(14), "GCP Storage buckets are publicly accessible to all users", "config",
            "critical", "gcp_bucket",
            description="Bucket IAM grants allUsers access.",
            recommendation="Remove allUsers and allAuthenticatedUsers bindings.",
        ),
        PolicySpec(
            _p(15), "GCP VM instance using a service account with Editor role", "iam", "medium",
            "gcp_instance", subtypes=("permissions",),
            description="The instance's service account is project Editor.",
            recommendation="Use a dedicated least-privilege service account.",
        ),
        PolicySpec(
            _p(16), "GCP service account key created", "audit_event", "informational",
            "gcp_sa", subtypes=("audit",),
            description="A user-managed key was created for a service account.",
            recommendation="Prefer workload identity; rotate or delete the key.",
        ),
        PolicySpec(
            _p(17), "Hosts with critical vulnerabilities that have known exploits",
            "workload_vulnerability", "critical", "aws_instance", subtypes=("run",),
            description="Defender found critical CVEs with exploits on the host.",
            recommendation="Patch the packages listed by Prisma Cloud Compute.",
            labels=("Compute",),
        ),
        PolicySpec(
            _p(18), "Runtime incident detected on host", "workload_incident", "high",
            "aws_instance", subtypes=("run",),
            description="Prisma Cloud Defender raised a runtime incident.",
            recommendation="Investigate the incident in Runtime > Incident Explorer.",
            labels=("Compute",),
        ),
        PolicySpec(
            _p(19), "AWS EC2 instance without an owner tag", "config", "informational",
            "aws_instance", description="The instance has no 'owner' tag.",
            recommendation="Tag every instance with an owner.",
        ),
    )
}


@dataclass(frozen=True)
class CveSpec:
    """One vulnerability as Compute reports it (``vuln.Vulnerability``)."""

    cve: str
    cvss: float
    severity: str
    package: str
    version: str
    fixed: str | None
    package_type: str
    description: str
    published: int  # unix seconds
    exploit: str = ""


KEV_CVES: tuple[CveSpec, ...] = (
    CveSpec("CVE-2021-44228", 10.0, "critical", "org.apache.logging.log4j_log4j-core", "2.14.1",
            "2.15.0", "jar", "Log4Shell: JNDI lookups allow remote code execution.", 1639094400,
            "cisa-kev"),
    CveSpec("CVE-2023-4863", 8.8, "high", "libwebp", "1.2.4-0.2", "1.2.4-0.2+deb12u1",
            "package", "Heap buffer overflow in libwebp.", 1694649600, "cisa-kev"),
    CveSpec("CVE-2021-4034", 7.8, "high", "policykit-1", "0.105-31", "0.105-31+deb11u1",
            "package", "pkexec local privilege escalation (PwnKit).", 1643155200, "cisa-kev"),
    CveSpec("CVE-2014-0160", 7.5, "high", "openssl", "1.0.1e-2", "1.0.1e-2+deb7u5", "package",
            "Heartbleed: TLS heartbeat read overrun.", 1396915200, "cisa-kev"),
    CveSpec("CVE-2022-22965", 9.8, "critical", "org.springframework_spring-beans", "5.3.17",
            "5.3.18", "jar", "Spring4Shell: data binding RCE on JDK 9+.", 1648771200, "cisa-kev"),
    CveSpec("CVE-2023-44487", 7.5, "high", "golang.org/x/net", "v0.15.0", "v0.17.0", "go",
            "HTTP/2 rapid reset denial of service.", 1696896000, "cisa-kev"),
)

OTHER_CVES: tuple[CveSpec, ...] = (
    CveSpec("CVE-2023-38545", 9.8, "critical", "curl", "7.88.1-10+deb12u1",
            "7.88.1-10+deb12u4", "package", "SOCKS5 heap buffer overflow in curl.", 1697032800),
    CveSpec("CVE-2019-25013", 5.9, "low", "glibc", "2.36-9+deb12u4", None, "package",
            "iconv EUC-KR buffer over-read.", 1610236800),
    CveSpec("CVE-2022-40897", 5.9, "medium", "setuptools", "65.5.0", "65.5.1", "python",
            "ReDoS in package_index.", 1672272000),
    CveSpec("CVE-2023-5363", 7.5, "high", "openssl", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2",
            "package", "Key and IV length processing bug.", 1698278400),
    CveSpec("CVE-2022-37434", 9.8, "critical", "zlib", "1:1.2.11.dfsg-2", None, "package",
            "inflateGetHeader heap overflow.", 1659916800),
    CveSpec("CVE-2023-29491", 7.8, "high", "ncurses", "6.4-4", "6.4-4+deb12u1", "package",
            "Memory corruption via malformed terminfo.", 1681948800),
    CveSpec("CVE-2022-3715", 7.8, "medium", "bash", "5.2.15-2", None, "package",
            "valid_parameter_transform heap overflow.", 1673913600),
)

CVES: tuple[CveSpec, ...] = KEV_CVES + OTHER_CVES

#: (attackType, type, severity, message, process, attackTechniques, incident category)
RUNTIME_EVENTS: tuple[tuple[str, str, str, str, str, tuple[str, ...], str], ...] = (
    ("cloudMetadataProbing", "processes", "high",
     "/usr/bin/curl launched but is not found in the runtime model. Full command: curl "
     "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "/usr/bin/curl",
     ("cloudInstanceMetadataAPI",), "hijackedProcess"),
    ("unexpectedOutboundPort", "network", "medium",
     "Outbound connection by /usr/bin/curl to an unexpected port: 4444 IP: 203.0.113.77",
     "/usr/bin/curl", ("ingressToolTransfer",), "dataExfiltration"),
    ("cryptoMinerProcess", "processes", "high",
     "/tmp/xmrig launched and is detected as a crypto miner.", "/tmp/xmrig",
     ("resourceHijacking",), "cryptoMiner"),
    ("reverseShell", "processes", "high",
     "/bin/bash launched as a reverse shell to 198.51.100.23:443.", "/bin/bash",
     ("nativeBinaryExecution",), "reverseShell"),
    ("sshAccess", "network", "medium", "SSH login from 192.0.2.10 as ec2-user.",
     "/usr/sbin/sshd", (), "backdoorSSHAccess"),
)
