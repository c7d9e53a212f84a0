"""The labelled tier scenario file: its schema, and the Prisma payload each scenario stands for.

A scenario (``tests/data/eval/tier_scenarios.yaml``) describes one alert compactly (policy,
severity, resource, account, tags, resource data; or a Compute scan, runtime audit or incident),
the context around it and the tier an analyst gives it. :func:`raw_alert` turns a spec into the
:class:`RawAlert` Prisma Cloud would have produced (CSPM ``/v2/alert`` item, CSPM webhook
notification, or the Compute poller's envelope), so the evaluation runs the real pipeline on it.
Unknown keys are rejected, so a typo in the file fails loudly instead of scoring something else.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from processors.enrich.owners import OwnerMapFile
from processors.models import AlertSource, RawAlert, RiskTier
from processors.yaml_documents import parse_yaml_document

__all__ = [
    "AccountSpec",
    "AlertSpec",
    "Scenario",
    "ScenarioFile",
    "parse_scenarios",
    "raw_alert",
]


_REGIONS = {"aws": "us-east-1", "azure": "westeurope", "gcp": "us-central1"}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountSpec(_Spec):
    """A cloud account as Prisma knows it: id, cloud and account groups."""

    id: str
    cloud: Literal["aws", "azure", "gcp"] = "aws"
    groups: list[str] = Field(default_factory=list)


class CspmSpec(_Spec):
    """A CSPM / CIEM / Code Security alert, as a ``/v2/alert`` item or a webhook notification."""

    kind: Literal["cspm", "cspm_webhook"]
    policy: str
    policy_type: str = "config"
    severity: str
    subtypes: list[str] = Field(default_factory=lambda: ["run"])
    resource_type: str
    resource_id: str
    resource_name: str = ""
    account: str
    region: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    data: dict[str, Any] | None = None
    status: Literal["open", "resolved", "dismissed", "snoozed"] = "open"
    reason: str = ""


class CveSpec(_Spec):
    id: str
    severity: str
    cvss: float | None = None
    package: str = "package"
    version: str = "1.0.0"


class _WorkloadSpec(_Spec):
    account: str
    hostname: str = ""
    instance_id: str = ""
    region: str = ""
    labels: dict[str, str] = Field(default_factory=dict)


class ComputeScanSpec(_WorkloadSpec):
    """A Compute host or image scan (``/hosts``, ``/images``)."""

    kind: Literal["compute_host", "compute_image"]
    image: str = ""
    cves: list[CveSpec] = Field(default_factory=list)
    risk_factors: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _named(self) -> ComputeScanSpec:
        if self.kind == "compute_host" and not self.hostname:
            raise ValueError("compute_host needs a hostname")
        if self.kind == "compute_image" and not self.image:
            raise ValueError("compute_image needs an image (registry/repo:tag)")
        return self


class AuditSpec(_Spec):
    attack_type: str
    severity: str
    msg: str = ""


class ComputeIncidentSpec(_WorkloadSpec):
    """A Compute incident (``/audits/incidents``)."""

    kind: Literal["compute_incident"]
    category: str
    audits: list[AuditSpec] = Field(default_factory=list)
    acknowledged: bool = False


class ComputeRuntimeSpec(_WorkloadSpec):
    """A Compute runtime audit (``/audits/runtime/host`` or ``/container``)."""

    kind: Literal["compute_runtime"]
    attack_type: str
    severity: str
    msg: str = ""


AlertSpec = Annotated[
    CspmSpec | ComputeScanSpec | ComputeIncidentSpec | ComputeRuntimeSpec, Field(discriminator="kind")
]


class ScenarioContext(_Spec):
    """What else is true: an earlier dismissal of the policy here, other open findings on the asset."""

    dismissed_before: bool = False
    open_on_asset: list[AlertSpec] = Field(default_factory=list)


class Scenario(_Spec):
    """One labelled alert: the tier an analyst gives it and why (citing docs/scoring.md)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    tier: RiskTier
    why: str = Field(min_length=1)
    alert: AlertSpec
    context: ScenarioContext = ScenarioContext()


class ScenarioFile(_Spec):
    """The whole file: accounts, an optional owner mapping, and the scenarios."""

    version: Literal[1] = 1
    accounts: dict[str, AccountSpec]
    owners: OwnerMapFile | None = None
    scenarios: list[Scenario]

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioFile:
        ids = [s.id for s in self.scenarios]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate scenario ids {duplicates}")
        for s in self.scenarios:
            for spec in (s.alert, *s.context.open_on_asset):
                if spec.account not in self.accounts:
                    raise ValueError(f"scenario {s.id}: account {spec.account!r} is not under accounts")
        return self


def parse_scenarios(text: str, origin: str) -> ScenarioFile:
    """Parse and validate a scenario file's text; raise :class:`ConfigurationError` naming ``origin``."""
    return parse_yaml_document(text, ScenarioFile, f"tier scenarios {origin}", plural=True)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _cspm_api(spec: CspmSpec, account: AccountSpec, alert_id: str, at: datetime) -> dict[str, Any]:
    policy_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"prisma-policy:{spec.policy}"))
    region = spec.region or _REGIONS[account.cloud]
    ms = _ms(at)
    return {
        "id": alert_id, "status": spec.status, "reason": spec.reason or "NEW_ALERT",
        "firstSeen": ms, "lastSeen": ms, "alertTime": ms, "lastUpdated": ms, "policyId": policy_id,
        "history": [{"modifiedBy": "Prisma Cloud", "modifiedOn": ms, "reason": spec.reason or "NEW_ALERT",
                     "status": spec.status}],
        "policy": {
            "policyId": policy_id, "name": spec.policy, "policyType": spec.policy_type,
            "policySubTypes": list(spec.subtypes), "systemDefault": True, "severity": spec.severity,
            "description": "", "recommendation": "", "complianceMetadata": [], "labels": [], "remediable": False,
        },
        "resource": {
            "id": spec.resource_id, "name": spec.resource_name or spec.resource_id.rstrip("/").rsplit("/", 1)[-1],
            "account": spec.account, "accountId": account.id, "cloudAccountGroups": list(account.groups),
            "regionId": region, "resourceType": spec.resource_type, "cloudType": account.cloud,
            "resourceTags": dict(spec.tags), "data": spec.data,
        },
    }


def _cspm_webhook(spec: CspmSpec, account: AccountSpec, alert_id: str, at: datetime) -> dict[str, Any]:
    item = _cspm_api(spec, account, alert_id, at)
    resource = dict(item["resource"])
    tags = resource.pop("resourceTags")
    return {
        "alertId": alert_id, "alertStatus": spec.status, "reason": item["reason"],
        "policyId": item["policyId"], "policyName": spec.policy, "policyType": spec.policy_type,
        "severity": spec.severity, "cloudType": account.cloud, "accountId": account.id,
        "accountName": spec.account, "resourceId": spec.resource_id, "resourceName": resource["name"],
        "resourceRegionId": resource["regionId"], "resource": resource,
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
        "firstSeen": item["firstSeen"], "lastSeen": item["lastSeen"],
    }


def _workload(spec: _WorkloadSpec, account: AccountSpec) -> dict[str, str]:
    return {"provider": account.cloud, "accountID": account.id, "region": spec.region or _REGIONS[account.cloud],
            "resourceID": spec.instance_id}


def _scan(spec: ComputeScanSpec, account: AccountSpec, at: datetime) -> dict[str, Any]:
    vulns: list[dict[str, Any]] = [{"cve": c.id, "cvss": c.cvss, "severity": c.severity, "status": "fixed in a later version",
              "packageName": c.package, "packageVersion": c.version, "packageType": "package", "riskFactors": {}}
             for c in spec.cves]
    record: dict[str, Any] = {
        "scanTime": at.isoformat(), "firstScanTime": (at - timedelta(days=7)).isoformat(),
        "labels": [f"{k}:{v}" for k, v in spec.labels.items()], "riskFactors": {r: {} for r in spec.risk_factors},
        "vulnerabilities": vulns, "cloudMetadata": _workload(spec, account),
    }
    if spec.kind == "compute_host":
        record.update({"_id": spec.hostname, "type": "host", "hostname": spec.hostname})
        return {"kind": "host_scan", "record": record}
    registry, _, rest = spec.image.rpartition("/") if "/" in spec.image else ("", "", spec.image)
    repo, _, tag = rest.partition(":")
    image_id = "sha256:" + _digest(spec.image)
    record.update({"_id": image_id, "id": image_id, "type": "image",
                   "repoTag": {"registry": registry, "repo": repo, "tag": tag or "latest"}})
    record["cloudMetadata"].pop("resourceID")
    return {"kind": "image_scan", "record": record}


def _runtime(spec: ComputeIncidentSpec | ComputeRuntimeSpec, account: AccountSpec, key: str,
             at: datetime) -> dict[str, Any]:
    base: dict[str, Any] = {"_id": _digest(key)[:24], "time": at.isoformat(), "hostname": spec.hostname,
                            "labels": dict(spec.labels), **_workload(spec, account)}
    if isinstance(spec, ComputeIncidentSpec):
        audits = [{"_id": f"a{i}", "type": "processes", "attackType": a.attack_type, "severity": a.severity,
                   "msg": a.msg} for i, a in enumerate(spec.audits)]
        base.update({"type": "host", "category": spec.category, "acknowledged": spec.acknowledged, "audits": audits})
        return {"kind": "incident", "record": base}
    base.update({"type": "processes", "attackType": spec.attack_type, "severity": spec.severity, "msg": spec.msg,
                 "effect": "alert"})
    return {"kind": "runtime_audit", "record": base}


def raw_alert(spec: CspmSpec | ComputeScanSpec | ComputeIncidentSpec | ComputeRuntimeSpec,
              accounts: dict[str, AccountSpec], key: str, at: datetime) -> RawAlert:
    """The RawAlert Prisma Cloud would have produced for ``spec``; ``key`` makes its ids unique and stable."""
    account = accounts[spec.account]
    alert_id = "P-" + str(int(_digest(key)[:10], 16) % 10**8)
    payload: dict[str, Any]
    if isinstance(spec, CspmSpec):
        builder = _cspm_api if spec.kind == "cspm" else _cspm_webhook
        payload = builder(spec, account, alert_id, at)
        source = AlertSource.CSPM_API if spec.kind == "cspm" else AlertSource.CSPM_WEBHOOK
    elif isinstance(spec, ComputeScanSpec):
        payload, source = _scan(spec, account, at), AlertSource.COMPUTE_API
    else:
        payload, source = _runtime(spec, account, key, at), AlertSource.COMPUTE_API
    text = json.dumps(payload, sort_keys=True)
    return RawAlert(
        ingest_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"prismaflow-eval:{key}")),
        source=source,
        source_alert_id=alert_id,
        received_at=at,
        payload_json=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )
