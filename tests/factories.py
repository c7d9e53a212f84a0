"""Realistic sample records for tests: one factory per model, overrides by keyword.

Each ``make_<record>(**overrides)`` returns a fully populated, valid record (every optional field
set, so a round trip exercises every branch of its schema); keyword arguments replace fields and
go through the model's validation. Timestamps are UTC with millisecond precision, so they survive
Avro ``timestamp-millis`` unchanged.

    alert = make_alert(severity=Severity.LOW)
    scored = make_scored_alert(alert=alert, score=20, tier=RiskTier.LOW)

:data:`FACTORIES` maps each record name that has an Avro schema to its factory, for tests that
go over every schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from connectors.ports import SourceCheckpoint
from processors.correlate import AssetState, Finding
from processors.graph.state import AssetGraph, Neighbour
from processors.dedupe import DedupeEntry
from processors.score import DismissalHistory
from processors.models import (
    Alert,
    AlertSource,
    AlertStatus,
    Cloud,
    ComplianceMapping,
    Criticality,
    Enrichment,
    Environment,
    Module,
    RawAlert,
    ResourceRef,
    RiskFactor,
    RiskTier,
    ScoredAlert,
    Severity,
    UpdateKind,
    Vulnerability,
)
from processors.remediation.plan import ActionKind, ChangeRisk, PlannedAction, RemediationPlan, canonical_json
from processors.records import (
    AssetLink,
    LinkKind,
    MemberRisk,
    ScoringState,
    ActorType,
    Analyser,
    Analysis,
    ApprovalVote,
    AnalysisOutcome,
    AuditRecord,
    DeadLetter,
    Decision,
    Evidence,
    Priority,
    RemediationDecision,
    RemediationRequest,
    RemediationStep,
    RolloutMode,
    SiemEvent,
    TicketState,
    Tracker,
)

__all__ = [
    "T0",
    "ASSET_ID",
    "FACTORIES",
    "make_raw_alert",
    "make_resource_ref",
    "make_vulnerability",
    "make_enrichment",
    "make_alert",
    "make_risk_factor",
    "make_scored_alert",
    "make_remediation_step",
    "make_evidence",
    "make_analysis",
    "make_ticket_state",
    "make_audit_record",
    "make_remediation_request",
    "make_remediation_decision",
    "make_siem_event",
    "make_dead_letter",
    "make_source_checkpoint",
]

T0 = datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)
"""The moment sample alerts were first seen; other timestamps are offsets from it."""

R = TypeVar("R", bound=BaseModel)

ASSET_ID = "aws:123456789012:eu-west-1:ec2-instance:i-0abc123def4567890"
ALERT_ID = "P-4711"
INCIDENT_ID = "inc-7f3a9c"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _build(model: type[R], defaults: dict[str, Any], overrides: dict[str, Any]) -> R:
    return model(**{**defaults, **overrides})


_CSPM_PAYLOAD = json.dumps(
    {
        "id": ALERT_ID,
        "status": "open",
        "alertTime": 1741944413589,
        "policy": {
            "policyId": "3c2e8b2a-8f4e-4a5b-9f0d-1e2d3c4b5a69",
            "name": "AWS EC2 instance with IMDSv1 enabled and public IP",
            "policyType": "config",
            "severity": "high",
        },
        "resource": {
            "id": "i-0abc123def4567890",
            "name": "payments-api-1",
            "cloudType": "aws",
            "accountId": "123456789012",
            "regionId": "eu-west-1",
            "resourceType": "INSTANCE",
        },
    },
    sort_keys=True,
)


def make_raw_alert(**overrides: Any) -> RawAlert:
    """A CSPM alert as the API poller received it."""
    payload = overrides.get("payload_json", _CSPM_PAYLOAD)
    defaults = {
        "ingest_id": "5f0c6a52-5c1e-4b7e-9a53-2a0f6f1c7d10",
        "source": AlertSource.CSPM_API,
        "source_alert_id": ALERT_ID,
        "tenant": "app.eu.prismacloud.io",
        "received_at": T0 + timedelta(seconds=2),
        "payload_json": payload,
        "content_hash": _sha256(payload),
    }
    return _build(RawAlert, defaults, overrides)


def make_resource_ref(**overrides: Any) -> ResourceRef:
    """An internet-facing EC2 instance in production."""
    defaults = {
        "asset_id": ASSET_ID,
        "resource_id": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def4567890",
        "name": "payments-api-1",
        "resource_type": "aws-ec2-describe-instances",
        "cloud": Cloud.AWS,
        "account_id": "123456789012",
        "account_name": "payments-prod",
        "region": "eu-west-1",
        "tags": {"env": "prod", "owner": "payments-team@example.com", "data-class": "confidential"},
    }
    return _build(ResourceRef, defaults, overrides)


def make_vulnerability(**overrides: Any) -> Vulnerability:
    """A KEV-listed CVE with a fix available."""
    defaults = {
        "cve": "CVE-2024-6387",
        "cvss": 8.1,
        "package": "openssh-server",
        "installed_version": "1:9.6p1-3ubuntu13",
        "fixed_version": "1:9.6p1-3ubuntu13.3",
        "epss": 0.8735,
        "in_kev": True,
    }
    return _build(Vulnerability, defaults, overrides)


def make_enrichment(**overrides: Any) -> Enrichment:
    """Context for an exposed, business-critical production asset."""
    defaults = {
        "internet_exposed": True,
        "exploitability": 1.0,
        "in_kev": True,
        "criticality": Criticality.HIGH,
        "environment": Environment.PROD,
        "data_sensitivity": "confidential",
        "owner": "payments-team@example.com",
        "team": "payments",
        "resource_config_json": json.dumps(
            {"MetadataOptions": {"HttpTokens": "optional"}, "PublicIpAddress": "203.0.113.7"}
        ),
        "feeds_as_of": "epss=2025-03-13;kev=2025-03-12",
    }
    return _build(Enrichment, defaults, overrides)


def make_alert(**overrides: Any) -> Alert:
    """A high-severity CSPM finding on :data:`ASSET_ID`, enriched, with a CVE and a compliance mapping."""
    defaults = {
        "alert_id": ALERT_ID,
        "source": AlertSource.CSPM_API,
        "module": Module.CSPM,
        "policy_id": "3c2e8b2a-8f4e-4a5b-9f0d-1e2d3c4b5a69",
        "policy_name": "AWS EC2 instance with IMDSv1 enabled and public IP",
        "policy_type": "config",
        "severity": Severity.HIGH,
        "status": AlertStatus.OPEN,
        "status_reason": "NEW_ALERT",
        "description": "The instance allows IMDSv1 and has a public IP, so SSRF can steal its role credentials.",
        "recommendation": "Require IMDSv2: aws ec2 modify-instance-metadata-options --http-tokens required.",
        "resource": make_resource_ref(),
        "compliance": [
            ComplianceMapping(standard="CIS v3.0.0 (AWS)", requirement="5.6", section="5.6"),
            ComplianceMapping(standard="PCI DSS v4.0", requirement="2.2", section="2.2.5"),
        ],
        "vulnerabilities": [make_vulnerability()],
        "first_seen": T0,
        "last_seen": T0 + timedelta(hours=6),
        "status_changed_at": T0 + timedelta(minutes=1),
        "ingested_at": T0 + timedelta(seconds=2),
        "enrichment": make_enrichment(),
        "content_hash": _sha256(f"{ALERT_ID}|open|high|{ASSET_ID}"),
    }
    return _build(Alert, defaults, overrides)


def make_risk_factor(**overrides: Any) -> RiskFactor:
    """The internet-exposure factor at full strength."""
    defaults = {
        "name": "internet_exposed",
        "weight": 25.0,
        "value": 1.0,
        "contribution": 25.0,
        "reason": "Public IP 203.0.113.7 with an open security group",
    }
    return _build(RiskFactor, defaults, overrides)


def make_scored_alert(**overrides: Any) -> ScoredAlert:
    """:func:`make_alert` scored critical and correlated into an incident."""
    defaults = {
        "alert": make_alert(),
        "update_kind": UpdateKind.NEW,
        "score": 87,
        "tier": RiskTier.CRITICAL,
        "factors": [
            make_risk_factor(),
            make_risk_factor(
                name="kev", weight=30.0, value=1.0, contribution=30.0, reason="CVE-2024-6387 is in CISA KEV"
            ),
            make_risk_factor(name="criticality", weight=20.0, value=0.75, contribution=15.0, reason="criticality=high"),
        ],
        "incident_id": INCIDENT_ID,
        "incident_members": [ALERT_ID, "P-4712"],
        "suggested_dismissal": False,
        "suggestion_reason": "",
        "scored_at": T0 + timedelta(seconds=3),
        "incident_update": False,
    }
    return _build(ScoredAlert, defaults, overrides)


def make_remediation_step(**overrides: Any) -> RemediationStep:
    """Require IMDSv2 on the instance, by CLI and by Terraform."""
    defaults = {
        "order": 1,
        "description": "Require IMDSv2 on the instance",
        "command": "aws ec2 modify-instance-metadata-options --instance-id i-0abc123def4567890 --http-tokens required",
        "iac_snippet": 'metadata_options {\n  http_tokens = "required"\n}',
    }
    return _build(RemediationStep, defaults, overrides)


def make_evidence(**overrides: Any) -> Evidence:
    """A claim backed by the resource configuration."""
    defaults = {
        "claim": "IMDSv1 is enabled (HttpTokens=optional)",
        "source": "resource_config",
        "reference": "MetadataOptions.HttpTokens",
    }
    return _build(Evidence, defaults, overrides)


def make_analysis(**overrides: Any) -> Analysis:
    """An LLM analysis of :func:`make_scored_alert`."""
    defaults = {
        "alert_id": ALERT_ID,
        "incident_id": INCIDENT_ID,
        "asset_id": ASSET_ID,
        "summary": "A production payments instance is reachable from the internet and allows IMDSv1.",
        "business_impact": "Stolen role credentials would expose cardholder data in S3.",
        "root_cause": "Launch template predates the IMDSv2 baseline.",
        "priority": Priority.P1,
        "priority_justification": "Internet-exposed, KEV-listed CVE, confidential data.",
        "recommended_actions": ["Require IMDSv2", "Patch openssh-server", "Remove the public IP"],
        "remediation_steps": [
            make_remediation_step(),
            make_remediation_step(
                order=2,
                description="Patch openssh-server",
                command="sudo apt-get install --only-upgrade openssh-server",
                iac_snippet="",
            ),
        ],
        "approval_path": "asset owner, then security on-call",
        "confidence": 0.86,
        "evidence": [
            make_evidence(),
            make_evidence(claim="CVE-2024-6387 is in KEV", source="kev", reference="CVE-2024-6387"),
        ],
        "outcome": AnalysisOutcome.ANALYSED,
        "analyser": Analyser.LLM,
        "model": "gpt-4o-mini-2024-07-18",
        "prompt_id": "triage",
        "prompt_version": "3",
        "input_hash": _sha256("triage:3:P-4711"),
        "created_at": T0 + timedelta(seconds=9),
    }
    return _build(Analysis, defaults, overrides)


def make_ticket_state(**overrides: Any) -> TicketState:
    """The Jira issue tracking :data:`INCIDENT_ID`."""
    defaults = {
        "fingerprint": _sha256(f"{ASSET_ID}|{INCIDENT_ID}"),
        "tracker": Tracker.JIRA,
        "ticket_key": "SEC-1042",
        "ticket_url": "https://example.atlassian.net/browse/SEC-1042",
        "status": "To Do",
        "last_synced_hash": _sha256("SEC-1042|v1"),
        "alert_ids": [ALERT_ID, "P-4712"],
        "updated_at": T0 + timedelta(seconds=12),
        "member_risk": {ALERT_ID: MemberRisk(score=87, tier=RiskTier.CRITICAL),
                        "P-4712": MemberRisk(score=64, tier=RiskTier.HIGH)},
    }
    return _build(TicketState, defaults, overrides)


def make_audit_record(**overrides: Any) -> AuditRecord:
    """The audit entry for :func:`make_analysis`."""
    defaults = {
        "record_id": "0b8f5c1e-3a2d-4c6b-8e9f-7a1b2c3d4e5f",
        "sequence": 41,
        "prev_hash": _sha256("record-40"),
        "hash": _sha256("record-41"),
        "actor_type": ActorType.MODEL,
        "actor": "gpt-4o-mini-2024-07-18",
        "action": "analysed",
        "alert_id": ALERT_ID,
        "incident_id": INCIDENT_ID,
        "prompt_version": "triage@3",
        "model": "gpt-4o-mini-2024-07-18",
        "input_hash": _sha256("triage:3:P-4711"),
        "outcome": "ok",
        "details_json": json.dumps({"tokens_in": 1834, "tokens_out": 412, "cached": False}),
        "at": T0 + timedelta(seconds=9),
    }
    return _build(AuditRecord, defaults, overrides)


_IMDS_PLAN = RemediationPlan(
    plan_id="plan-imds-1", alert_id=ALERT_ID, asset_id=ASSET_ID, policy_family="ec2_imdsv1", cloud=Cloud.AWS,
    account_id="123456789012", region="eu-west-1", resource_id="i-0abc123def4567890", environment=Environment.PROD,
    summary="Require IMDSv2 on payments-api-1", change_risk=ChangeRisk.MEDIUM,
    actions=(PlannedAction(kind=ActionKind.AWS_API, target_resource="i-0abc123def4567890", region="eu-west-1",
                           service="ec2", operation="ModifyInstanceMetadataOptions",
                           parameters={"InstanceId": "i-0abc123def4567890", "HttpTokens": "required"}),))


def make_remediation_request(**overrides: Any) -> RemediationRequest:
    """A fix waiting for approval in assist mode."""
    defaults = {
        "request_id": "c4d3b2a1-0f9e-4d8c-b7a6-958473625140",
        "alert_id": ALERT_ID,
        "incident_id": INCIDENT_ID,
        "asset_id": ASSET_ID,
        "mode": RolloutMode.ASSIST,
        "environment": Environment.PROD,
        "summary": "Require IMDSv2 on payments-api-1",
        "steps": [make_remediation_step()],
        "approval_path": "asset owner, then security on-call",
        "requested_by": "analyser",
        "requested_at": T0 + timedelta(seconds=10),
        "expires_at": T0 + timedelta(hours=24, seconds=10),
        "plan_id": _IMDS_PLAN.plan_id,
        "policy_family": _IMDS_PLAN.policy_family,
        "target_resource": _IMDS_PLAN.resource_id,
        "change_risk": _IMDS_PLAN.change_risk,
        "touches_iam": False,
        "required_approvals": 2,
        "plan_digest": _IMDS_PLAN.digest(),
        "plan_json": canonical_json(_IMDS_PLAN.model_dump(mode="json")),
        "escalate_at": T0 + timedelta(hours=18, seconds=10),
        "escalation_channel": "#security-oncall",
    }
    return _build(RemediationRequest, defaults, overrides)


def make_remediation_decision(**overrides: Any) -> RemediationDecision:
    """The approval of :func:`make_remediation_request`."""
    defaults = {
        "request_id": "c4d3b2a1-0f9e-4d8c-b7a6-958473625140",
        "alert_id": ALERT_ID,
        "asset_id": ASSET_ID,
        "decision": Decision.APPROVED,
        "approver": "alice@example.com",
        "reason": "Change window tonight",
        "decided_at": T0 + timedelta(hours=2),
        "plan_digest": _IMDS_PLAN.digest(),
        # Placeholder signatures (shape only): tests that check signatures sign their own decisions.
        "signature": "ab" * 32,
        "key_id": "k1",
        "final": True,
        "approvals": [ApprovalVote(approver="alice@example.com", decided_at=T0 + timedelta(hours=1),
                                   plan_digest=_IMDS_PLAN.digest(), signature="00" * 32, key_id="k1")],
    }
    return _build(RemediationDecision, defaults, overrides)


def make_siem_event(**overrides: Any) -> SiemEvent:
    """The SIEM view of :func:`make_scored_alert`."""
    defaults = {
        "event_id": "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4",
        "alert_id": ALERT_ID,
        "asset_id": ASSET_ID,
        "module": Module.CSPM,
        "policy_name": "AWS EC2 instance with IMDSv1 enabled and public IP",
        "severity": Severity.HIGH,
        "score": 87,
        "tier": RiskTier.CRITICAL,
        "status": AlertStatus.OPEN,
        "cloud": Cloud.AWS,
        "account_id": "123456789012",
        "region": "eu-west-1",
        "resource_id": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def4567890",
        "summary": "Internet-exposed production instance allows IMDSv1 (score 87, critical)",
        "ticket_key": "SEC-1042",
        "event_time": T0 + timedelta(seconds=3),
    }
    return _build(SiemEvent, defaults, overrides)


def make_dead_letter(**overrides: Any) -> DeadLetter:
    """A raw alert the normaliser could not parse."""
    defaults = {
        "original_topic": "prisma.alerts.raw",
        "original_partition": 3,
        "original_offset": 2_147_483_651,  # past 2**31: offsets are longs
        "original_key": ALERT_ID.encode(),
        "original_value": b"\xc3\x01\x00\x01{not avro",
        "stage": "normalise",
        "error_class": "InvalidRecordError",
        "error_message": "payload has no policy.policyId",
        "failed_at": T0 + timedelta(seconds=4),
        "attempts": 3,
        "headers": {"traceparent": b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "empty": b""},
    }
    return _build(DeadLetter, defaults, overrides)


def make_scoring_state(**overrides: Any) -> ScoringState:
    """A changelog entry with every part set (on the topic, one part is set per key)."""
    defaults = {
        "dedupe": DedupeEntry(content_hash="c0ffee", status=AlertStatus.OPEN, last_seen=T0, times_seen=3),
        "asset": AssetState(
            asset_id="aws:123456789012:us-east-1:instance/i-0abc",
            findings=(
                Finding(alert_id="P-1", module=Module.CSPM, policy_id="pol-ssh", policy_name="SSH open",
                        severity=Severity.HIGH, last_seen=T0, traits=("exposure",)),
                Finding(alert_id="cwpp:host-vulns:ip-10-0-0-1", module=Module.CWPP, policy_id="compute:vulns",
                        severity=Severity.CRITICAL, last_seen=T0, traits=("exploitable",)),
                Finding(alert_id="P-7", module=Module.CIEM, policy_id="pol-admin-role", policy_name="Admin role",
                        severity=Severity.HIGH, last_seen=T0, traits=("iam",),
                        asset_id="aws:123456789012:global:role/web"),
            ),
            incident_id="inc-4f2a",
        ),
        "history": DismissalHistory(entries={"pol-ssh": ("aws:123456789012:*",)}),
        "graph": AssetGraph(
            asset_id="aws:123456789012:us-east-1:instance/i-0abc",
            satellites=(Neighbour(asset_id="aws:123456789012:global:role/web", relation="instance_profile",
                                  seen=T0, announced=T0),),
            hubs=(Neighbour(asset_id="aws:123456789012:us-east-1:instance/i-0def", relation="runs_image", seen=T0),),
            aliases=("aws:123456789012:us-east-1:host/ip-10-0-0-1.ec2.internal",),
            aliases_announced=T0,
            alias_of=(Neighbour(asset_id="aws:123456789012:us-east-1:instance/i-0fed", relation="alias", seen=T0),),
        ),
        "member": make_alert(),
    }
    return _build(ScoringState, defaults, overrides)


def make_asset_link(**overrides: Any) -> AssetLink:
    """The core telling an instance's partition about its role's finding."""
    defaults = {
        "kind": LinkKind.MEMBER,
        "target": "aws:123456789012:us-east-1:instance/i-0abc",
        "hub": "aws:123456789012:us-east-1:instance/i-0abc",
        "satellite": "aws:123456789012:global:role/web",
        "relation": "instance_profile",
        "present": True,
        "alert": make_alert(),
        "at": T0 + timedelta(seconds=2),
    }
    return _build(AssetLink, defaults, overrides)


def make_source_checkpoint(**overrides: Any) -> SourceCheckpoint:
    """A CSPM poller halfway through a window, on its third page."""
    defaults = {
        "source": "cspm:default",
        "watermark": T0 - timedelta(minutes=5),
        "window_start": T0 - timedelta(minutes=5),
        "window_end": T0,
        "phase": "alerts",
        "page_token": "eyJwYWdlIjozfQ==",
        "offset": 200,
        "pages_written": 2,
        "alerts_written": 187,
        "updated_at": T0 + timedelta(seconds=1),
    }
    return _build(SourceCheckpoint, defaults, overrides)


FACTORIES: dict[str, Callable[..., BaseModel]] = {
    "RawAlert": make_raw_alert,
    "Alert": make_alert,
    "ScoredAlert": make_scored_alert,
    "Analysis": make_analysis,
    "TicketState": make_ticket_state,
    "AuditRecord": make_audit_record,
    "RemediationRequest": make_remediation_request,
    "RemediationDecision": make_remediation_decision,
    "SiemEvent": make_siem_event,
    "DeadLetter": make_dead_letter,
    "SourceCheckpoint": make_source_checkpoint,
    "ScoringState": make_scoring_state,
    "AssetLink": make_asset_link,
}
