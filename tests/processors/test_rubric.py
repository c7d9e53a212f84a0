"""Specification of the tier rubric (processors/score/rubric.py) against docs/scoring.md, rule by rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from processors.correlate import CorrelationResult
from processors.models import Alert, AlertStatus, Criticality, Enrichment, Environment, Module, RiskTier, Severity
from processors.score import RULE_TITLES, FindingKind, decide_tier
from streams.static_inputs import load_scoring_policy
from tests.factories import make_alert, make_vulnerability

POLICY = load_scoring_policy()
DOC = (Path(__file__).resolve().parents[2] / "docs" / "scoring.md").read_text(encoding="utf-8")
C, H, M, L = RiskTier.CRITICAL, RiskTier.HIGH, RiskTier.MEDIUM, RiskTier.LOW

KEV = make_vulnerability(cve="CVE-2021-44228", in_kev=True, epss=0.94)
LIKELY = make_vulnerability(cve="CVE-2023-38545", in_kev=False, epss=0.26)
UNLIKELY = make_vulnerability(cve="CVE-2023-5363", in_kev=False, epss=0.04)


def _alert(
    policy: str = "AWS EC2 instance not configured with Instance Metadata Service v2 (IMDSv2)",
    *,
    policy_type: str = "config",
    severity: Severity = Severity.MEDIUM,
    module: Module = Module.CSPM,
    vulns: tuple[Any, ...] = (),
    status: AlertStatus = AlertStatus.OPEN,
    **enrichment: Any,
) -> Alert:
    context: dict[str, Any] = {"environment": Environment.PROD, "criticality": Criticality.MEDIUM}
    context.update(enrichment)
    context["in_kev"] = any(v.in_kev for v in vulns)
    return make_alert(policy_name=policy, policy_type=policy_type, severity=severity, module=module,
                      vulnerabilities=list(vulns), status=status, enrichment=Enrichment(**context))


def _cwpp(severity: Severity, *vulns: Any, **enrichment: Any) -> Alert:
    return _alert("Compute host vulnerabilities", policy_type="workload_vulnerability", severity=severity,
                  module=Module.CWPP, vulns=vulns, **enrichment)


EXPOSED = {"internet_exposed": True, "exposure_reason": "instance has public IP 35.180.1.1"}
SSH_OPEN = {"internet_exposed": True, "admin_exposed": True,
            "exposure_reason": "security group allows ingress from 0.0.0.0/0 on port 22"}
PUBLIC_BUCKET = "AWS S3 bucket publicly readable via ACL or bucket policy"

# (case, alert, expected rule, expected tier) — one case at least per rule of docs/scoring.md.
CASES: list[tuple[str, Alert, str, RiskTier]] = [
    ("incident", _alert("Compute incident: cryptoMiner", policy_type="workload_incident", severity=Severity.HIGH,
                        module=Module.CWPP), "C1", C),
    ("root login", _alert("AWS root account activity detected", policy_type="audit_event", severity=Severity.MEDIUM),
     "C2", C),
    ("root anomaly", _alert("Suspicious root user login", policy_type="anomaly", severity=Severity.LOW), "C2", C),
    ("KEV exposed", _cwpp(Severity.HIGH, KEV, **EXPOSED), "C3", C),
    ("EPSS exposed", _cwpp(Severity.CRITICAL, LIKELY, **EXPOSED), "C3", C),
    ("policy says known exploits, exposed", _alert("Hosts with critical vulnerabilities that have known exploits",
                                                   policy_type="workload_vulnerability", severity=Severity.CRITICAL,
                                                   module=Module.CWPP, **EXPOSED), "C3", C),
    ("SSH world from data", _alert("AWS Security groups allow internet traffic", severity=Severity.HIGH, **SSH_OPEN),
     "C4", C),
    ("SSH world from name only", _alert("AWS Security Group allows all traffic on SSH port (22)",
                                        severity=Severity.HIGH), "C4", C),
    ("RDP world", _alert("Azure Network Security Group allows all traffic on RDP Port 3389", severity=Severity.MEDIUM),
     "C4", C),
    ("public PII", _alert(PUBLIC_BUCKET, severity=Severity.HIGH, data_sensitivity="restricted", **EXPOSED), "C5", C),
    ("public crown jewel", _alert("AWS RDS database instance is publicly accessible", severity=Severity.MEDIUM,
                                  criticality=Criticality.CRITICAL), "C5", C),
    ("data security PII", _alert("Objects containing PII are publicly exposed", policy_type="data",
                                 severity=Severity.HIGH), "C5", C),
    ("admin identity exposed", _alert("Azure VM with managed identity having Owner role", policy_type="iam",
                                      severity=Severity.HIGH, module=Module.CIEM, **EXPOSED), "C6", C),
    ("prisma critical", _alert("AWS EC2 instance with IAM role having administrative permissions (*:*)",
                               policy_type="iam", severity=Severity.CRITICAL, module=Module.CIEM), "C7", C),
    ("attack path", _alert("Internet exposed instance with exploitable vulnerabilities and admin role",
                           policy_type="attack_path", severity=Severity.CRITICAL), "C7", C),
    ("prisma high", _alert(PUBLIC_BUCKET, severity=Severity.HIGH, **EXPOSED), "H1", H),
    ("exposure rated critical, content unknown", _alert("GCP Storage buckets are publicly accessible to all users",
                                                        severity=Severity.CRITICAL, **EXPOSED), "H1", H),
    ("secret critical", _alert("AWS Access Keys found in source code", policy_type="secrets",
                               severity=Severity.CRITICAL, module=Module.CODE), "H1", H),
    ("KEV internal", _cwpp(Severity.LOW, KEV), "H2", H),
    ("critical CVE internal", _cwpp(Severity.CRITICAL, UNLIKELY), "H3", H),
    ("high CVE exposed", _cwpp(Severity.HIGH, UNLIKELY, **EXPOSED), "H3", H),
    ("runtime high", _alert("Compute runtime: reverseShell", policy_type="runtime", severity=Severity.HIGH,
                            module=Module.CWPP), "H4", H),
    ("medium exposed config", _alert(**EXPOSED), "H5", H),
    ("medium identity on PII", _alert("GCP VM instance using a service account with Editor role", policy_type="iam",
                                      module=Module.CIEM, data_sensitivity="confidential"), "H5", H),
    ("critical IaC", _alert("AWS S3 bucket ACL grants READ to everyone (Terraform)", policy_type="iac",
                            severity=Severity.CRITICAL, module=Module.CODE), "H6", H),
    ("activity high", _alert("Account hijacking attempts", policy_type="anomaly", severity=Severity.HIGH), "H7", H),
    ("prisma medium", _alert(), "M1", M),
    ("hygiene not raised by exposure", _alert("AWS Access logging not enabled on S3 buckets", **EXPOSED), "M1", M),
    ("exposure finding medium", _alert("AWS Security Group allows all traffic on port 8080 from the internet",
                                       **EXPOSED), "M1", M),
    ("high CVE internal", _cwpp(Severity.HIGH, UNLIKELY), "M2", M),
    ("medium CVE exposed", _cwpp(Severity.MEDIUM, UNLIKELY, **EXPOSED), "M2", M),
    ("runtime medium", _alert("Compute runtime: sshAccess", policy_type="runtime", module=Module.CWPP), "M3", M),
    ("low raised by PII", _alert("AWS S3 Object Versioning is disabled", severity=Severity.LOW,
                                 data_sensitivity="restricted"), "M4", M),
    ("low config exposed", _alert("AWS EC2 instance with IMDS response hop limit greater than 1",
                                  severity=Severity.LOW, **EXPOSED), "M4", M),
    ("high IaC", _alert("AWS SG allows SSH (Terraform)", policy_type="iac", severity=Severity.HIGH,
                        module=Module.CODE), "M5", M),
    ("activity medium", _alert("GCP VPC Network Firewall rule changes", policy_type="audit_event"), "M6", M),
    ("prisma low", _alert("AWS IAM password policy does not have an uppercase character", severity=Severity.LOW),
     "L1", L),
    ("informational never raised", _alert("AWS EC2 instance without an owner tag", severity=Severity.INFORMATIONAL,
                                          data_sensitivity="restricted", **EXPOSED), "L1", L),
    ("medium CVE internal", _cwpp(Severity.MEDIUM, UNLIKELY), "L2", L),
    ("low CVE exposed", _cwpp(Severity.LOW, UNLIKELY, **EXPOSED), "L2", L),
    ("public by design", _alert(PUBLIC_BUCKET, severity=Severity.HIGH, data_sensitivity="public", **EXPOSED), "L3", L),
    ("public by design beats Prisma critical", _alert("GCP Storage buckets are publicly accessible to all users",
                                                      severity=Severity.CRITICAL, data_sensitivity="public"), "L3", L),
    ("medium IaC", _alert("RDS not encrypted (CloudFormation)", policy_type="iac", module=Module.CODE), "L4", L),
    ("runtime low", _alert("Compute runtime: port", policy_type="runtime", severity=Severity.LOW,
                           module=Module.CWPP), "L5", L),
    ("activity informational", _alert("GCP service account key created", policy_type="audit_event",
                                      severity=Severity.INFORMATIONAL), "L6", L),
]


@pytest.mark.parametrize(("alert", "rule", "tier"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_of_the_rubric(alert: Alert, rule: str, tier: RiskTier) -> None:
    decision = decide_tier(alert, POLICY)
    assert (decision.rule, decision.tier) == (rule, tier)
    assert decision.reason.startswith(f"{tier.value.upper()} by {rule} {RULE_TITLES[rule][1]}")


def test_every_rule_of_the_document_is_implemented_and_tested() -> None:
    documented = {m.group(1): (m.group(2).strip()) for m in re.finditer(r"^\| ([CHML]\d) ([^|]+?) \|", DOC, re.M)}
    assert documented.keys() == RULE_TITLES.keys()
    for rule, (tier, title) in RULE_TITLES.items():
        assert documented[rule] == title, f"{rule}: code says {title!r}, docs/scoring.md {documented[rule]!r}"
        assert rule[0] == tier.value[0].upper()
    assert {c[2] for c in CASES} == RULE_TITLES.keys()


def test_a_write_exposure_is_never_public_by_design() -> None:
    alert = _alert("AWS S3 bucket publicly writable", severity=Severity.HIGH, data_sensitivity="public")
    assert decide_tier(alert, POLICY).rule == "H1"


@pytest.mark.parametrize(
    ("environment", "rule_tier", "expected"),
    [
        (Environment.PROD, C, C), (Environment.UNKNOWN, C, C),
        (Environment.STAGING, C, H), (Environment.STAGING, H, H), (Environment.STAGING, M, M),
        (Environment.DEV, C, H), (Environment.DEV, H, M), (Environment.TEST, M, L), (Environment.TEST, L, L),
    ],
)
def test_a2_environment(environment: Environment, rule_tier: RiskTier, expected: RiskTier) -> None:
    by_tier = {C: _alert("AWS Security Group allows all traffic on SSH port (22)", severity=Severity.HIGH),
               H: _alert(PUBLIC_BUCKET, severity=Severity.HIGH), M: _alert(),
               L: _alert("AWS KMS Customer Managed Key not in use", severity=Severity.LOW)}
    alert = by_tier[rule_tier]
    alert = alert.model_copy(update={"enrichment": alert.enrichment.model_copy(update={"environment": environment})})
    decision = decide_tier(alert, POLICY)
    assert decision.rule_tier is rule_tier and decision.tier is expected
    assert ("A2" in decision.reason) == (expected is not rule_tier)


def test_a1_low_value_lowers_posture_but_not_attacks() -> None:
    low = {"criticality": Criticality.LOW}
    ssh = decide_tier(_alert("AWS Security Group allows all traffic on SSH port (22)", severity=Severity.HIGH, **low),
                      POLICY)
    assert ssh.tier is H and "A1" in ssh.reason
    attack = _alert("Compute incident: reverseShell", policy_type="workload_incident", severity=Severity.HIGH,
                    module=Module.CWPP, **low)
    assert decide_tier(attack, POLICY).tier is C
    assert decide_tier(_cwpp(Severity.HIGH, KEV, **low), POLICY).tier is H
    activity = _alert("Account hijacking attempts", policy_type="anomaly", severity=Severity.HIGH, **low)
    assert decide_tier(activity, POLICY).tier is H


@pytest.mark.parametrize("status", [AlertStatus.RESOLVED, AlertStatus.DISMISSED, AlertStatus.SNOOZED])
def test_g1_anything_not_open_is_low(status: AlertStatus) -> None:
    attack = _alert("Compute incident: cryptoMiner", policy_type="workload_incident", severity=Severity.HIGH,
                    module=Module.CWPP, status=status)
    decision = decide_tier(attack, POLICY)
    assert decision.rule == "C1" and decision.tier is L and f"G1 {status.value}" in decision.reason


def test_g2_known_noise_is_low_unless_it_is_an_attack() -> None:
    assert decide_tier(_alert(PUBLIC_BUCKET, severity=Severity.HIGH), POLICY, known_noise="bucket/*").tier is L
    attack = _alert("Compute incident: cryptoMiner", policy_type="workload_incident", module=Module.CWPP)
    assert decide_tier(attack, POLICY, known_noise="*").tier is C
    root = _alert("AWS root account activity detected", policy_type="audit_event")
    assert decide_tier(root, POLICY, known_noise="*").tier is C
    assert decide_tier(_cwpp(Severity.HIGH, KEV), POLICY, known_noise="*").tier is H
    assert decide_tier(_cwpp(Severity.CRITICAL, LIKELY), POLICY, known_noise="*").tier is L


def test_an_exposed_sibling_finding_makes_the_asset_internet_facing_only_inside_an_incident() -> None:
    alert = _cwpp(Severity.HIGH, KEV)
    with_exposure = CorrelationResult("inc", ("a", "b"), frozenset({Module.CSPM, Module.CWPP}), True, "x",
                                      frozenset({"exposure"}))
    no_incident = CorrelationResult(None, (), frozenset({Module.CWPP}), False, "", frozenset({"exposure"}))
    assert decide_tier(alert, POLICY, correlation=with_exposure).rule == "C3"
    assert decide_tier(alert, POLICY, correlation=no_incident).rule == "H2"


def test_findings_are_classified_by_module_type_and_name() -> None:
    kinds = {
        "hygiene": _alert("AWS CloudTrail logging is disabled"),
        "exposure": _alert("AWS RDS database instance is publicly accessible"),
        "configuration": _alert(),
        "identity": _alert("AWS IAM role unused for 90 days", policy_type="iam", module=Module.CIEM),
        "secret": _alert("Token in code", policy_type="secrets", module=Module.CODE),
        "code": _alert("Dockerfile without USER", policy_type="build", module=Module.CODE),
    }
    for expected, alert in kinds.items():
        assert decide_tier(alert, POLICY).facts.kind is FindingKind(expected), expected
