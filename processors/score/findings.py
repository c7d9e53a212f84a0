"""What a finding is and what its context says, in the rubric's terms (docs/scoring.md, "The facts").

:func:`finding_facts` is called once per alert by :func:`processors.score.rubric.decide_tier`. It
reads only the normalised, enriched alert (module, policy type and name, severity, vulnerabilities,
enrichment); the policy name is Prisma's text, matched against small word lists, never echoed
into decisions beyond the reasons people read.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

from processors.correlate import CorrelationResult
from processors.enrich.exposure import policy_names_admin_service, policy_says_exposed
from processors.models import Alert, Module
from processors.score.policy import RubricSettings

__all__ = ["Exploitation", "FindingFacts", "FindingKind", "finding_facts"]


class FindingKind(str, Enum):
    """The rubric's classes of finding."""

    RUNTIME_INCIDENT = "runtime incident"
    RUNTIME_EVENT = "runtime event"
    VULNERABILITY = "vulnerability"
    ACTIVITY = "activity"  # audit events and anomalies
    CODE = "code"  # IaC and build findings: not deployed yet
    SECRET = "secret"  # Code Security secrets
    IDENTITY = "identity"  # IAM / CIEM
    EXPOSURE = "exposure"  # posture finding about reachability from outside
    HYGIENE = "hygiene"  # logging, monitoring, tags, backups, rotation, encryption ...
    CONFIGURATION = "configuration"  # any other posture finding


#: Kinds Prisma rates as posture (a resource's configuration), where Prisma's severity is the base.
POSTURE_KINDS = frozenset({FindingKind.IDENTITY, FindingKind.EXPOSURE, FindingKind.HYGIENE, FindingKind.CONFIGURATION})


class Exploitation(str, Enum):
    KNOWN = "known"  # in CISA KEV
    LIKELY = "likely"  # EPSS at or above the rubric's threshold
    NONE = "none"


_HYGIENE = re.compile(
    r"\blog(?:s|ging)?\b|monitor|alarm|metric filter|\btag(?:s|ged|ging)?\b|backup|versioning|rotat|password policy"
    r"|certificate|expir|unused|not in use|retention|encrypt|customer[- ]managed key|\bcmk\b|default (?:kms )?key"
    r"|deletion protection|multi-?az|zone awareness|mfa delete|diagnostic|auditing|contact (?:e-?mail|phone)",
    re.IGNORECASE,
)
_ROOT = re.compile(r"\broot\b", re.IGNORECASE)
_WRITE = re.compile(r"\bwrit(?:e|able|ing)\b|full control|\bdelete\b", re.IGNORECASE)
_DATA_CLASS = re.compile(
    r"\b(?:pii|phi|pci|personal(?:ly identifiable)?|financial|credit card|cardholder|social security|ssn"
    r"|health|sensitive|confidential|secret)\b",
    re.IGNORECASE,
)
_EXPLOIT_POLICY = re.compile(r"known exploits?|exploitable|exploits? (?:available|in the wild)", re.IGNORECASE)
_ACTIVITY_TYPES = frozenset({"audit_event", "anomaly"})
_CODE_TYPES = frozenset({"iac", "build"})


@dataclass(frozen=True, slots=True)
class FindingFacts:
    """The rubric's inputs for one alert, each with the evidence a reason can quote."""

    kind: FindingKind
    root_usage: bool
    admin_exposure: bool  # an exposure finding that opens an administrative service or every port
    write_exposure: bool  # an exposure finding about writing, never "by design"
    exploitation: Exploitation
    exploit_evidence: str  # e.g. "CVE-2021-44228 in CISA KEV"
    internet_facing: bool
    exposure_evidence: str
    high_value: str  # why the asset is high-value, "" when not
    low_value: bool
    public_data: bool


def _kind(ptype: str, module: Module, name: str, has_vulns: bool) -> FindingKind:
    if ptype == "workload_incident":
        return FindingKind.RUNTIME_INCIDENT
    if ptype == "runtime":
        return FindingKind.RUNTIME_EVENT
    if ptype == "workload_vulnerability" or (module is Module.CWPP and has_vulns):
        return FindingKind.VULNERABILITY
    if ptype in _ACTIVITY_TYPES:
        return FindingKind.ACTIVITY
    if ptype == "secrets":
        return FindingKind.SECRET
    if module is Module.CODE or ptype in _CODE_TYPES:
        return FindingKind.CODE
    if module is Module.CIEM or ptype == "iam":
        return FindingKind.IDENTITY
    if ptype == "network" or policy_says_exposed(name):
        return FindingKind.EXPOSURE
    if _HYGIENE.search(name):
        return FindingKind.HYGIENE
    return FindingKind.CONFIGURATION


@dataclass(frozen=True, slots=True)
class _NameFacts:
    """What the policy's type, module and name say; the same for every alert of a policy."""

    kind: FindingKind
    root_usage: bool
    admin_named: bool
    write_named: bool
    exploits_named: bool
    data_class_named: bool


@functools.lru_cache(maxsize=8192)
def _name_facts(ptype: str, module: Module, name: str, has_vulns: bool) -> _NameFacts:
    # Policy names repeat across alerts; the regexes run once per policy, not once per alert.
    kind = _kind(ptype, module, name, has_vulns)
    return _NameFacts(
        kind=kind,
        root_usage=kind is FindingKind.ACTIVITY and bool(_ROOT.search(name)),
        admin_named=policy_names_admin_service(name),
        write_named=bool(_WRITE.search(name)),
        exploits_named=ptype == "workload_vulnerability" and bool(_EXPLOIT_POLICY.search(name)),
        data_class_named=ptype == "data" and bool(_DATA_CLASS.search(name)),
    )


def _exploitation(alert: Alert, names: _NameFacts, settings: RubricSettings) -> tuple[Exploitation, str]:
    kev = sorted({v.cve for v in alert.vulnerabilities if v.in_kev})
    if kev or alert.enrichment.in_kev:
        shown = ", ".join(kev[:3]) + (" …" if len(kev) > 3 else "")
        return Exploitation.KNOWN, f"{shown or 'a CVE'} in CISA KEV (known exploited)"
    likely = [v for v in alert.vulnerabilities if v.epss is not None and v.epss >= settings.likely_exploited_epss]
    if likely:
        top = max(likely, key=lambda v: v.epss or 0.0)
        return Exploitation.LIKELY, f"{top.cve} EPSS {top.epss:.2f} (likely exploited)"
    if names.exploits_named:
        return Exploitation.LIKELY, f"the policy reports exploits: {alert.policy_name}"
    return Exploitation.NONE, ""


def _high_value(alert: Alert, names: _NameFacts, settings: RubricSettings) -> str:
    e = alert.enrichment
    if e.data_sensitivity in settings.high_value_sensitivities:
        return f"data classified {e.data_sensitivity}"
    if e.criticality in settings.high_value_criticalities:
        return f"business criticality {e.criticality.value}"
    if names.data_class_named:
        return "Prisma Data Security found sensitive data (policy names it)"
    return ""


def _exposure(alert: Alert, correlation: CorrelationResult | None) -> tuple[bool, str]:
    """Internet-facing is a fact about the asset: its own data, or another open finding on it that shows it."""
    e = alert.enrichment
    if e.internet_exposed:
        return True, e.exposure_reason or "reachable from the internet"
    if correlation is not None and correlation.incident_id is not None and "exposure" in correlation.traits:
        return True, "another open finding on this asset shows it reachable from the internet"
    return False, ""


def finding_facts(alert: Alert, settings: RubricSettings, correlation: CorrelationResult | None = None) -> FindingFacts:
    """Classify ``alert`` and gather the context facts the rubric reads (``correlation``: its asset's incident)."""
    names = _name_facts(alert.policy_type, alert.module, alert.policy_name, bool(alert.vulnerabilities))
    kind = names.kind
    e = alert.enrichment
    internet_facing, exposure_evidence = _exposure(alert, correlation)
    exploitation, exploit_evidence = _exploitation(alert, names, settings)
    high_value = _high_value(alert, names, settings)
    is_exposure = kind is FindingKind.EXPOSURE
    return FindingFacts(
        kind=kind,
        root_usage=names.root_usage,
        admin_exposure=is_exposure and (e.admin_exposed or names.admin_named),
        write_exposure=is_exposure and names.write_named,
        exploitation=exploitation,
        exploit_evidence=exploit_evidence,
        internet_facing=internet_facing,
        exposure_evidence=exposure_evidence,
        high_value=high_value,
        low_value=not high_value and e.criticality in settings.low_value_criticalities,
        public_data=e.data_sensitivity == "public",
    )
