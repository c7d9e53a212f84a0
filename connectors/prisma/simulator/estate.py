"""A deterministic, realistic Prisma Cloud estate built from a seed.

:func:`generate_estate` creates AWS, Azure and GCP accounts with several regions; their resources
(instances, security groups/NSGs/firewalls, buckets, storage accounts, RDS, IAM roles, service
accounts); CSPM alerts of policy types ``config``, ``network``, ``iam``, ``audit_event``,
``workload_vulnerability`` and ``workload_incident`` across all five severities and all statuses
(with history); and the Compute side: host, image and container scan results with real CVE ids
(a mix of CISA KEV entries and others), container and host runtime audits, and incidents.

How one asset appears in each payload (the join keys a correlator uses)
-----------------------------------------------------------------------
Every *workload* (:class:`Workload`) is one virtual machine seen by both CSPM and Compute:

=========================  =====================================================================
CSPM alert               ``resource.id`` = instance id (AWS ``i-0…``, Azure ARM id
                         ``/subscriptions/…/virtualMachines/<name>``, GCP numeric id);
                         ``resource.accountId``, ``resource.regionId``, ``resource.cloudType``;
                         ``resource.rrn`` = ``rrn::instance:<region>:<account>:<hash>:<id>``;
                         ``resource.data.privateDnsName`` (AWS) / ``data.name`` = the hostname
Security group alert     on the SG/NSG/firewall resource; the instance's
                         ``data.securityGroups[].groupId`` (AWS), ``data.networkSecurityGroupId``
                         (Azure) or ``data.firewallRules[]`` (GCP) names it
IAM (CIEM) alert         ``policy.policyType`` = ``iam`` on the instance resource itself;
                         ``metadata.roleArn`` / ``data.iamInstanceProfile.arn`` names the role
Network alert            ``policy.policyType`` = ``network`` on the instance resource
Workload CSPM alerts     ``workload_vulnerability`` / ``workload_incident`` on the instance,
                         ``metadata.source`` = ``Defender`` plus ``cveCritical…`` / ``audit*`` keys
Compute host scan        ``hostname`` = the instance hostname; ``cloudMetadata.resourceID`` =
                         ``resource.id`` above, ``cloudMetadata.accountID`` / ``region`` /
                         ``provider`` = ``accountId`` / ``regionId`` / ``cloudType``
Compute container scan   ``hostname`` and ``info.cloudMetadata.resourceID`` as for the host
Runtime audit, incident  ``hostname``, ``accountID``, ``region``, ``provider``, ``resourceID``
=========================  =====================================================================

So ``(cloudType, accountId, resource id)`` == ``(provider, accountID, resourceID)`` is the asset
key, and ``hostname`` joins Compute records that lack cloud metadata. Some workloads carry the
full toxic combination: an SSH-open security group, an internet-exposure network alert, an
administrative IAM role and a host CVE listed in CISA KEV.

Duplicates are deliberate: overlapping policies flag the same bucket twice, each workload's CVEs
appear both in Compute scans and as a CSPM ``workload_vulnerability`` alert, and webhooks may
redeliver an alert the poller already saw.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from connectors.prisma.simulator.catalog import POLICIES, REGIONS
from connectors.prisma.simulator.compute_estate import ComputeEstate, build_compute
from connectors.prisma.simulator.payloads import make_alert, new_resource, transition

__all__ = ["Estate", "Workload", "generate_estate"]

DAY_MS = 86_400_000
_ACCOUNTS = {
    "aws": [("aws-prod-payments", "Production"), ("aws-prod-web", "Production"),
            ("aws-dev-sandbox", "Development")],
    "azure": [("azure-prod-erp", "Production"), ("azure-dev-apps", "Development")],
    "gcp": [("gcp-prod-analytics", "Production"), ("gcp-dev-ml", "Development")],
}
_TEAMS = ("payments", "web", "data", "platform", "erp")


@dataclass(frozen=True)
class Workload:
    """One VM that CSPM and Compute both know; the flags say which findings it carries."""

    cloud: str
    account_id: str
    account_name: str
    region_id: str
    instance_id: str
    hostname: str
    rrn: str
    exposed: bool
    admin_role: bool
    exploitable: bool
    has_incident: bool


@dataclass
class Estate:
    """Everything the simulator serves, built by :func:`generate_estate`."""

    seed: int
    created_ms: int
    accounts: list[dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    alerts: dict[str, dict[str, Any]]
    workloads: list[Workload]
    compute: ComputeEstate
    candidates: list[tuple[str, str]] = field(default_factory=list)
    next_alert_number: int = 0


def _accounts(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for cloud, names in _ACCOUNTS.items():
        for name, group in names:
            if cloud == "aws":
                account_id = str(rng.randrange(10**11, 10**12))
            elif cloud == "azure":
                account_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            else:
                account_id = f"{name}-{rng.randrange(1000, 9999)}"
            first, *others = sorted(REGIONS[cloud], key=lambda r: (r != "us-east-1", r))
            regions = [first, rng.choice(others)] if cloud == "aws" else sorted(REGIONS[cloud])
            out.append({"cloudType": cloud, "accountId": account_id, "name": name,
                        "groups": [group, "Default Account Group"], "regions": regions})
    return out


class _Builder:
    def __init__(self, rng: random.Random, now_ms: int) -> None:
        self.rng = rng
        self.now_ms = now_ms
        self.resources: dict[str, dict[str, Any]] = {}
        self.pairs: list[tuple[str, str]] = []

    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(n * 4):0{n}x}"

    def add(self, kind: str, acct: dict[str, Any], region: str, rid: str, name: str,
            data: dict[str, Any], policies: tuple[int, ...], url: str) -> dict[str, Any]:
        tags = {"env": "prod" if "prod" in acct["name"] else "dev",
                "owner": f"{self.rng.choice(_TEAMS)}-team"}
        res = new_resource(kind, resource_id=rid, name=name, account=acct, region_id=region,
                           region_name=REGIONS[acct["cloudType"]][region], data=data, tags=tags,
                           created_ms=self.now_ms - self.rng.randrange(30, 400) * DAY_MS, url=url)
        self.resources[res["rrn"]] = res
        self.pairs.extend((f"5a1f0c2e-8d3b-4f7a-9c61-{p:012x}", res["rrn"]) for p in policies)
        return res

    def workload(self, acct: dict[str, Any], index: int) -> Workload:
        rng, cloud = self.rng, acct["cloudType"]
        region = acct["regions"][index % len(acct["regions"])]
        exposed, admin = rng.random() < 0.5, rng.random() < 0.35
        exploitable, incident = rng.random() < 0.4, rng.random() < 0.3
        if index % 5 == 0:  # a toxic combination on every fifth workload
            exposed = admin = exploitable = True
        octets = f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(2, 254)}"
        if cloud == "aws":
            sg = self.add("aws_sg", acct, region, f"sg-{self._hex(17)}", f"web-sg-{index}",
                          {"groupId": "", "ipPermissions": [
                              {"fromPort": 22, "toPort": 22, "ipProtocol": "tcp",
                               "ipRanges": ["0.0.0.0/0" if exposed else "10.0.0.0/8"]}],
                           "isShared": False, "vpcId": f"vpc-{self._hex(8)}"},
                          (3,) if exposed else (), "https://console.aws.amazon.com/ec2/")
            sg["data"]["groupId"] = sg["id"]
            role_arn = f"arn:aws:iam::{acct['accountId']}:role/app-role-{index}"
            self.add("aws_role", acct, region, role_arn, f"app-role-{index}",
                     {"arn": role_arn, "roleName": f"app-role-{index}"}, (8,),
                     "https://console.aws.amazon.com/iam/")
            iid = f"i-{self._hex(17)}"
            host = f"ip-{octets.replace('.', '-')}.{'ec2' if region == 'us-east-1' else region + '.compute'}.internal"
            data = {"instanceId": iid, "instanceType": "m5.large", "privateDnsName": host,
                    "privateIpAddress": octets, "publicIpAddress": "198.51.100.%d" % (index % 250)
                    if exposed else None, "securityGroups": [{"groupId": sg["id"]}],
                    "iamInstanceProfile": {"arn": role_arn},
                    "metadataOptions": {"httpTokens": "optional"}, "state": {"name": "running"}}
            pols = (4, 19) + ((6,) if exposed else ()) + ((7,) if admin else ())
            res = self.add("aws_instance", acct, region, iid, f"app-{index}", data, pols,
                           f"https://console.aws.amazon.com/ec2/v2/home?region={region}")
        elif cloud == "azure":
            name = f"vm-app-{index}"
            sub = acct["accountId"]
            nsg_id = f"/subscriptions/{sub}/resourceGroups/rg-app/providers/Microsoft.Network/networkSecurityGroups/nsg-{index}"
            self.add("azure_nsg", acct, region, nsg_id, f"nsg-{index}",
                     {"securityRules": [{"destinationPortRange": "22", "access": "Allow",
                                         "sourceAddressPrefix": "*" if exposed else "10.0.0.0/8"}]},
                     (10,) if exposed else (), "https://portal.azure.com/")
            iid = f"/subscriptions/{sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/{name}"
            host = name
            data = {"name": name, "vmId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    "networkSecurityGroupId": nsg_id, "identity": {"type": "SystemAssigned"}}
            res = self.add("azure_vm", acct, region, iid, name, data, (12,) if admin else (),
                           "https://portal.azure.com/")
        else:
            name = f"gce-app-{index}"
            fw = self.add("gcp_firewall", acct, region, str(self.rng.getrandbits(60)),
                          f"allow-ssh-{index}",
                          {"sourceRanges": ["0.0.0.0/0" if exposed else "10.0.0.0/8"],
                           "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]},
                          (13,) if exposed else (), "https://console.cloud.google.com/")
            sa = f"app-{index}@{acct['accountId']}.iam.gserviceaccount.com"
            self.add("gcp_sa", acct, region, sa, sa, {"email": sa}, (16,),
                     "https://console.cloud.google.com/iam-admin/")
            iid, host = str(self.rng.getrandbits(60)), name
            data = {"id": iid, "name": name, "firewallRules": [fw["name"]],
                    "serviceAccounts": [{"email": sa, "scopes": ["cloud-platform"]}]}
            res = self.add("gcp_instance", acct, region, iid, name, data, (15,) if admin else (),
                           "https://console.cloud.google.com/compute/")
        return Workload(cloud, acct["accountId"], acct["name"], region, iid, host, res["rrn"],
                        exposed, admin, exploitable, incident)

    def storage(self, acct: dict[str, Any], index: int) -> None:
        rng, cloud = self.rng, acct["cloudType"]
        region = rng.choice(acct["regions"])
        public = rng.random() < 0.6
        if cloud == "aws":
            name = f"acme-{acct['name']}-{index}-{self._hex(4)}"
            self.add("aws_bucket", acct, region, name, name,
                     {"bucketName": name, "region": region,
                      "acl": {"grants": [{"grantee": "AllUsers" if public else "Owner",
                                          "permission": "READ"}]},
                      "policyStatus": {"isPublic": public},
                      "publicAccessBlockConfiguration": None if public else {"blockPublicAcls": True}},
                     (1, 2) if public else (), f"https://console.aws.amazon.com/s3/buckets/{name}")
            db = f"db-{index}-{self._hex(4)}"
            self.add("aws_rds", acct, region, db, db, {"dbInstanceIdentifier": db,
                     "storageEncrypted": False}, (5,), "https://console.aws.amazon.com/rds/")
        elif cloud == "azure":
            name = f"acme{index}{self._hex(6)}"
            rid = f"/subscriptions/{acct['accountId']}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/{name}"
            self.add("azure_storage", acct, region, rid, name,
                     {"name": name, "allowBlobPublicAccess": public}, (11,) if public else (),
                     "https://portal.azure.com/")
        else:
            name = f"acme-{acct['name']}-{index}"
            self.add("gcp_bucket", acct, region, name, name,
                     {"name": name, "iam": {"bindings": [{"role": "roles/storage.objectViewer",
                      "members": ["allUsers" if public else "projectViewer:x"]}]}},
                     (14,) if public else (), "https://console.cloud.google.com/storage/")


def generate_estate(
    seed: int = 7,
    n_alerts: int = 500,
    *,
    now_ms: int = 1_718_010_000_000,
    n_workloads: int | None = None,
    history_days: int = 30,
) -> Estate:
    """Build an estate with exactly ``n_alerts`` CSPM alerts; the same arguments give the same estate.

    ``now_ms`` is the simulated present (epoch ms); alerts are spread over ``history_days`` before it.
    """
    rng = random.Random(seed)
    accounts = _accounts(rng)
    b = _Builder(rng, now_ms)
    for acct in accounts:
        if acct["cloudType"] == "aws":
            b.add("aws_account", acct, "us-east-1", acct["accountId"], acct["name"], {},
                  (9,), "https://console.aws.amazon.com/")
    workloads = [b.workload(accounts[i % len(accounts)], i)
                 for i in range(n_workloads or max(6, n_alerts // 20))]
    compute = build_compute(rng, workloads, accounts, now_ms)
    for w in workloads:
        if any(h["cloudMetadata"]["resourceID"] == w.instance_id and h["vulnerabilityDistribution"]["critical"]
               for h in compute.hosts):
            b.pairs.append((f"5a1f0c2e-8d3b-4f7a-9c61-{17:012x}", w.rrn))
        if w.has_incident:
            b.pairs.append((f"5a1f0c2e-8d3b-4f7a-9c61-{18:012x}", w.rrn))
    index = 0
    while len(b.pairs) < n_alerts * 1.2:
        b.storage(accounts[index % len(accounts)], index)
        index += 1
    # the correlated findings come first so small estates still carry them
    hot = {w.rrn for w in workloads if w.exposed and w.admin_role and w.exploitable}
    pairs = sorted(b.pairs, key=lambda p: (p[1] not in hot, rng.random()))
    chosen, candidates = pairs[:n_alerts], pairs[n_alerts:]
    timed = sorted(((now_ms - rng.randrange(60_000, history_days * DAY_MS), p) for p in chosen))
    alerts: dict[str, dict[str, Any]] = {}
    number = rng.randrange(100_000, 900_000)
    for t_ms, (pid, rrn) in timed:
        res = b.resources[rrn]
        meta = compute.cspm_metadata(pid, res["id"])
        if res["kind"] == "aws_instance" and pid.endswith(f"{7:012x}"):
            meta["roleArn"] = res["data"]["iamInstanceProfile"]["arn"]
        alert = make_alert(number, POLICIES[pid], res, t_ms, metadata=meta)
        alerts[alert["id"]] = _initial_churn(alert, rng, t_ms, now_ms)
        number += 1
    return Estate(seed=seed, created_ms=now_ms, accounts=accounts, resources=b.resources,
                  alerts=alerts, workloads=workloads, compute=compute, candidates=candidates,
                  next_alert_number=number)


def _initial_churn(alert: dict[str, Any], rng: random.Random, t_ms: int, now_ms: int) -> dict[str, Any]:
    """Give part of the history a lifecycle: resolved, dismissed, snoozed, reopened."""
    roll = rng.random()
    later = t_ms + (now_ms - t_ms) // 2
    if roll < 0.15:
        reason = rng.choice(("RESOURCE_UPDATED", "RESOURCE_DELETED", "REMEDIATED"))
        return transition(alert, "resolved", reason, later)
    if roll < 0.22:
        return transition(alert, "dismissed", "USER_DISMISSED", later, by="secops@acme.example",
                          note="Accepted risk (SEC-1234)")
    if roll < 0.26:
        return transition(alert, "snoozed", "USER_DISMISSED", later, by="secops@acme.example",
                          note="Snoozed until the change window",
                          until_ms=now_ms + rng.randrange(1, 48) * 3_600_000)
    if roll < 0.30:
        resolved = transition(alert, "resolved", "RESOURCE_UPDATED", later)
        return transition(resolved, "open", "RESOURCE_UPDATED", later + (now_ms - later) // 2)
    return alert
