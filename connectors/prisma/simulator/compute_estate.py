"""The Compute (CWPP) half of the simulated estate: scans, runtime audits and incidents.

Built from the same :class:`~connectors.prisma.simulator.estate.Workload` list as the CSPM half so
hostnames, account ids, regions and ``resourceID`` agree (see the ``estate`` module docstring).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.prisma.simulator.catalog import KEV_CVES, OTHER_CVES, RUNTIME_EVENTS, CveSpec
from connectors.prisma.simulator.payloads import distribution, iso, sha1, vuln_record

if TYPE_CHECKING:
    from connectors.prisma.simulator.estate import Workload

__all__ = ["ComputeEstate", "build_compute", "runtime_audit"]

_DISTROS = {
    "aws": ("amzn", "2", "Amazon Linux 2"),
    "azure": ("ubuntu", "22.04", "Ubuntu 22.04.4 LTS"),
    "gcp": ("debian", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
}
_IMAGES = (
    ("shop/checkout", "1.14.2", "checkout", ("CVE-2023-38545", "CVE-2019-25013")),
    ("shop/cart", "2.3.0", "cart", ("CVE-2023-4863", "CVE-2022-37434")),
    ("payments/api", "4.2.1", "payments", ("CVE-2021-44228", "CVE-2023-5363")),
    ("data/etl", "0.9.7", "etl", ("CVE-2022-22965", "CVE-2022-40897")),
    ("edge/gateway", "3.1.0", "gateway", ("CVE-2023-44487", "CVE-2023-29491")),
    ("library/nginx", "1.25.3", "nginx", ("CVE-2022-3715",)),
)
_BY_ID: dict[str, CveSpec] = {c.cve: c for c in KEV_CVES + OTHER_CVES}
_SEVERITY_KEYS = (("critical", "cveCritical"), ("high", "cveHigh"), ("medium", "cveMedium"),
                  ("low", "cveLow"))


@dataclass
class ComputeEstate:
    """Scan results and runtime data as the Compute API returns them."""

    hosts: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)
    audits: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"container": [], "host": []}
    )
    incidents: list[dict[str, Any]] = field(default_factory=list)

    def cspm_metadata(self, policy_id: str, resource_id: str) -> dict[str, Any]:
        """``metadata`` keys CSPM adds to workload alerts on ``resource_id`` (empty otherwise)."""
        if policy_id.endswith(f"{17:012x}"):
            for host in self.hosts:
                if host["cloudMetadata"]["resourceID"] == resource_id:
                    dist = host["vulnerabilityDistribution"]
                    counts = {key: dist[sev] for sev, key in _SEVERITY_KEYS}
                    return {**counts, "source": "Defender"}
        if policy_id.endswith(f"{18:012x}"):
            for inc in self.incidents:
                if inc["resourceID"] == resource_id:
                    first = inc["audits"][0]
                    return {"auditCount": len(inc["audits"]), "auditMessage": first["msg"],
                            "auditRuleName": first["ruleName"], "auditTime": first["time"],
                            "auditType": first["type"], "auditUser": first["user"],
                            "incidentCategory": inc["category"], "lastIncidentTime": inc["time"],
                            "source": "Defender"}
        return {}


def _oid(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def runtime_audit(
    rng: random.Random, w: Workload, t_ms: int, *, container: dict[str, Any] | None
) -> dict[str, Any]:
    """One ``shared.RuntimeAudit`` for workload ``w`` (inside ``container`` when given)."""
    attack, kind, severity, msg, process, techniques, _ = rng.choice(RUNTIME_EVENTS)
    audit: dict[str, Any] = {
        "_id": _oid(rng), "time": iso(t_ms), "hostname": w.hostname, "fqdn": "",
        "user": "root", "type": kind, "effect": "alert",
        "ruleName": "Default - alert on suspicious runtime behavior", "msg": msg,
        "interactive": False, "pid": rng.randrange(100, 65000), "processPath": process,
        "command": msg.split("Full command: ")[-1] if "Full command" in msg else process,
        "attackType": attack, "attackTechniques": list(techniques), "count": 1,
        "severity": severity, "os": _DISTROS[w.cloud][2], "provider": w.cloud,
        "region": w.region_id, "accountID": w.account_id, "resourceID": w.instance_id,
        "collections": ["All", w.account_name], "container": container is not None,
    }
    if container is not None:
        info = container["info"]
        audit.update(containerId=info["id"], containerName=info["name"],
                     imageName=info["imageName"], imageId=info["imageID"],
                     namespace=info["namespace"], cluster=info["cluster"],
                     profileId=info["profileID"])
    else:
        audit["profileId"] = f"{w.hostname}"
    return audit


def _image(rng: random.Random, registry: str, spec: tuple[str, str, str, tuple[str, ...]],
           now_ms: int) -> dict[str, Any]:
    repo, tag, app, cves = spec
    digest = "sha256:" + sha1("image", repo, tag) + sha1("digest", repo)[:24]
    vulns = [vuln_record(_BY_ID[c], discovered_ms=now_ms - 5 * 86_400_000, in_use=True,
                         host_type=False) for c in cves]
    distro = _DISTROS["gcp"]
    return {
        "_id": digest, "id": digest, "type": "image", "hostname": "", "scanTime": iso(now_ms),
        "firstScanTime": iso(now_ms - 20 * 86_400_000), "creationTime": iso(now_ms - 40 * 86_400_000),
        "distro": distro[2], "osDistro": distro[0], "osDistroVersion": distro[1],
        "osDistroRelease": distro[1],
        "repoTag": {"registry": registry, "repo": repo, "tag": tag},
        "tags": [{"registry": registry, "repo": repo, "tag": tag}],
        "repoDigests": [f"{registry}/{repo}@{digest}"], "instances": [], "hosts": {},
        "clusters": [], "namespaces": [], "collections": ["All"], "labels": [f"app:{app}"],
        "vulnerabilities": vulns, "vulnerabilitiesCount": len(vulns),
        "vulnerabilityDistribution": distribution(vulns),
        "vulnerabilityRiskScore": sum(int(v["cvss"] * 1000) for v in vulns),
        "complianceIssues": [], "complianceIssuesCount": 0,
        "complianceDistribution": {"critical": 0, "high": 0, "medium": 0, "low": 0, "total": 0},
        "complianceRiskScore": 0, "riskFactors": {}, "packages": [], "applications": [],
        "trustStatus": "trusted", "appEmbedded": False, "agentless": False, "err": "",
        "scanID": rng.randrange(1, 10_000),
    }


def build_compute(
    rng: random.Random,
    workloads: list[Workload],
    accounts: list[dict[str, Any]],
    now_ms: int,
) -> ComputeEstate:
    """Hosts, images, containers, audits and incidents for ``workloads`` (deterministic)."""
    out = ComputeEstate()
    registry = f"{next(a['accountId'] for a in accounts if a['cloudType'] == 'aws')}.dkr.ecr.us-east-1.amazonaws.com"
    images = [_image(rng, registry, spec, now_ms) for spec in _IMAGES]
    out.images = images
    serial = rng.randrange(1000, 2000)
    for w in workloads:
        distro = _DISTROS[w.cloud]
        chosen = rng.sample(OTHER_CVES, 2) + ([rng.choice(KEV_CVES[1:4])] if w.exploitable else [])
        if w.exploitable and not any(c.severity == "critical" for c in chosen):
            chosen.append(_BY_ID["CVE-2023-38545"])
        vulns = [vuln_record(c, discovered_ms=now_ms - 3 * 86_400_000, in_use=True,
                             host_type=True) for c in chosen]
        cluster = f"{w.account_name}-k8s"
        host: dict[str, Any] = {
            "_id": w.hostname, "type": "host", "hostname": w.hostname, "scanTime": iso(now_ms),
            "firstScanTime": iso(now_ms - 25 * 86_400_000), "distro": distro[2],
            "osDistro": distro[0], "osDistroVersion": distro[1], "osDistroRelease": distro[1],
            "collections": ["All", w.account_name], "clusters": [cluster], "labels": [],
            "cloudMetadata": {"provider": w.cloud, "accountID": w.account_id,
                              "region": w.region_id, "resourceID": w.instance_id,
                              "name": w.hostname, "type": "m5.large"},
            "vulnerabilities": vulns, "vulnerabilitiesCount": len(vulns),
            "vulnerabilityDistribution": distribution(vulns),
            "vulnerabilityRiskScore": sum(int(v["cvss"] * 1000) for v in vulns),
            "complianceIssues": [], "complianceIssuesCount": 0,
            "complianceDistribution": {"critical": 0, "high": 0, "medium": 0, "low": 0, "total": 0},
            "complianceRiskScore": 0,
            "riskFactors": {"Reachable from the internet": {}} if w.exposed else {},
            "packages": [], "applications": [], "agentless": False, "err": "",
            "scanID": rng.randrange(1, 10_000),
        }
        out.hosts.append(host)
        containers = []
        for image in rng.sample(images, rng.randrange(1, 3)):
            repo = image["repoTag"]["repo"]
            app = repo.split("/")[-1]
            cid = sha1("container", w.hostname, repo) + sha1("c2", w.hostname, repo)[:24]
            namespace = repo.split("/")[0]
            container: dict[str, Any] = {
                "_id": cid, "hostname": w.hostname, "scanTime": iso(now_ms),
                "collections": ["All", w.account_name], "runtimeEnabled": True,
                "agentless": False, "csa": False,
                "info": {
                    "id": cid, "name": f"/k8s_{app}_{app}-{cid[:8]}_{namespace}_0",
                    "image": f"{registry}/{repo}:{image['repoTag']['tag']}",
                    "imageID": image["id"], "imageName": f"{registry}/{repo}:{image['repoTag']['tag']}",
                    "namespace": namespace, "cluster": cluster, "labels": [f"app:{app}"],
                    "app": app, "profileID": f"{image['id']}_{namespace}_{cluster}",
                    "startTime": iso(now_ms - 2 * 86_400_000), "infra": False,
                    "cloudMetadata": host["cloudMetadata"],
                },
            }
            containers.append(container)
            image["instances"].append({"image": container["info"]["image"], "host": w.hostname,
                                       "registry": registry, "repo": repo,
                                       "tag": image["repoTag"]["tag"], "modified": iso(now_ms)})
            image["hosts"][w.hostname] = {"modified": iso(now_ms)}
            image["clusters"] = sorted({*image["clusters"], cluster})
            image["namespaces"] = sorted({*image["namespaces"], namespace})
        out.containers.extend(containers)
        for _ in range(rng.randrange(0, 3)):
            out.audits["host"].append(runtime_audit(
                rng, w, now_ms - rng.randrange(60_000, 7 * 86_400_000), container=None))
        if w.has_incident:
            where = containers[0]
            t_ms = now_ms - rng.randrange(60_000, 3 * 86_400_000)
            audits = [runtime_audit(rng, w, t_ms + i * 4_000, container=where) for i in range(2)]
            out.audits["container"].extend(audits)
            category = next(e[6] for e in RUNTIME_EVENTS if e[0] == audits[0]["attackType"])
            info = where["info"]
            out.incidents.append({
                "_id": _oid(rng), "time": audits[-1]["time"], "type": "container",
                "category": category, "serialNum": serial, "acknowledged": False,
                "hostname": w.hostname, "fqdn": "", "containerID": info["id"],
                "containerName": info["name"], "imageID": info["imageID"],
                "imageName": info["imageName"], "profileID": info["profileID"],
                "namespace": info["namespace"], "cluster": info["cluster"],
                "labels": {"app": info["app"]}, "collections": ["All", w.account_name],
                "customRuleName": "", "provider": w.cloud, "region": w.region_id,
                "accountID": w.account_id, "resourceID": w.instance_id, "app": info["app"],
                "shouldCollect": True, "windows": False, "audits": audits,
            })
            serial += 1
    for kind in out.audits:
        out.audits[kind].sort(key=lambda a: a["time"])
    out.incidents.sort(key=lambda i: i["time"])
    return out
