"""The records that leave the alert path: analyses, tickets, audit, remediation, SIEM and dead letters.

The remediation records (requests, decisions) live in :mod:`processors.remediation.requests` and
are re-exported here. These sit beside :mod:`processors.models` (raw, normalised and scored alerts) and follow the same
contract: each model has an Avro schema of the same name in ``schemas/`` (``Analysis`` ↔
``schemas/Analysis.avsc``), a test keeps the two in step field by field, and the models are frozen
values: a stage makes a new record instead of changing one it received.

Timestamps are timezone-aware UTC datetimes (Avro ``timestamp-millis``, so sub-millisecond
precision does not survive a trip through Kafka).

Topics and keys are in the topic catalogue, :mod:`streams.topics`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import Field

from processors.models import Alert, AlertStatus, Cloud, Environment, Module, Record, RiskTier, Severity
from processors.correlate import AssetState
from processors.dedupe import DedupeEntry
from processors.graph.state import AssetGraph
from processors.remediation.requests import (
    ApprovalVote,
    Decision,
    RemediationDecision,
    RemediationRequest,
    RemediationStep,
    RolloutMode,
)
from processors.score import DismissalHistory

__all__ = [
    "Priority",
    "AnalysisOutcome",
    "Analyser",
    "RemediationStep",
    "Evidence",
    "Analysis",
    "Tracker",
    "TicketState",
    "ActorType",
    "AuditRecord",
    "RolloutMode",
    "RemediationRequest",
    "Decision",
    "ApprovalVote",
    "RemediationDecision",
    "SiemEvent",
    "DeadLetter",
    "ScoringState",
    "MemberRisk",
    "LinkKind",
    "AssetLink",
]


_INT_MAX = 2**31 - 1  # fields that are Avro "int"
_LONG_MAX = 2**63 - 1  # fields that are Avro "long"


# --- Analysis ------------------------------------------------------------------------------------


class Priority(str, Enum):
    """How soon a finding needs a person: P1 now, P4 when convenient."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class AnalysisOutcome(str, Enum):
    """Whether the analyser could ground its conclusions in the facts it was given."""

    ANALYSED = "analysed"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"


class Analyser(str, Enum):
    """Which analyser wrote an analysis: a language model, or the deterministic playbook analyser."""

    LLM = "llm"
    OFFLINE = "offline"


class Evidence(Record):
    """A fact an analysis rests on, and where it came from, so a reviewer can check it."""

    claim: str
    source: str = Field(description="alert, policy, resource_config, playbook, epss, kev, ...")
    reference: str = Field(default="", description="Field path, playbook id or URL within the source")


class Analysis(Record):
    """An explanation and plan for a scored alert or incident, from the LLM or the offline analyser.

    Key on ``prisma.analyses``: ``asset_id``.
    """

    alert_id: str
    incident_id: str | None = None
    asset_id: str
    summary: str
    business_impact: str = ""
    root_cause: str = ""
    priority: Priority
    priority_justification: str = ""
    recommended_actions: list[str] = Field(default_factory=list)
    remediation_steps: list[RemediationStep] = Field(default_factory=list)
    approval_path: str = Field(
        default="", description="Who must approve the fix, e.g. 'asset owner, then security on-call'"
    )
    confidence: float = Field(ge=0.0, le=1.0, description="0-1, the analyser's own confidence")
    evidence: list[Evidence] = Field(default_factory=list)
    outcome: AnalysisOutcome
    analyser: Analyser
    model: str = Field(default="", description="Model name the endpoint reported; empty for the offline analyser")
    prompt_id: str = ""
    prompt_version: str = ""
    input_hash: str = Field(description="SHA-256 of the exact input given to the analyser, hex")
    created_at: datetime


# --- Tickets -------------------------------------------------------------------------------------


class Tracker(str, Enum):
    """The ticketing system a ticket lives in."""

    JIRA = "jira"
    SERVICENOW = "servicenow"


class MemberRisk(Record):
    """The highest risk one open alert of a ticket has had while open: the ticket's priority is
    the highest of these, so it never drops while the alert that raised it is open."""

    score: int = Field(ge=0, le=100)
    tier: RiskTier


class TicketState(Record):
    """What Prismaflow last wrote to a ticket, so a sink creates once and updates on change.

    Key on the compacted ``prisma.tickets``: ``fingerprint``.
    """

    fingerprint: str = Field(description="Stable id of the finding or incident the ticket tracks")
    tracker: Tracker
    ticket_key: str = Field(description="The tracker's id: Jira issue key or ServiceNow sys_id/number")
    ticket_url: str = ""
    status: str = Field(description="The tracker's own status name, as last seen")
    last_synced_hash: str = Field(description="Content hash of what was last written; equal means nothing to update")
    alert_ids: list[str] = Field(default_factory=list)
    updated_at: datetime
    member_risk: dict[str, MemberRisk] = Field(
        default_factory=dict, description="Open alert id to the highest risk it has had while open")


# --- Audit ---------------------------------------------------------------------------------------


class ActorType(str, Enum):
    """Who did something: Prismaflow itself, a language model, or a person."""

    SYSTEM = "system"
    MODEL = "model"
    PERSON = "person"


class AuditRecord(Record):
    """One entry of the append-only, hash-chained, signed audit trail.

    ``hash`` covers every other field but ``key_id`` and ``signature``, and ``prev_hash``, so
    removing or changing an entry breaks the chain; ``signature`` (by the writer's key ``key_id``)
    covers ``hash``, so re-hashing a changed chain without the key is found too. Key on ``prisma.audit``: the alert or incident id.
    """

    record_id: str
    sequence: int = Field(ge=0, le=_LONG_MAX, description="Position in the chain, from 0")
    prev_hash: str = Field(description="hash of the previous record; empty for the first")
    hash: str = Field(description="SHA-256 over this record's other fields and prev_hash, hex")
    actor_type: ActorType
    actor: str = Field(description="Component name, model name or person's identity")
    action: str = Field(description="What was done, e.g. analysed, ticket_created, fix_approved")
    alert_id: str | None = None
    incident_id: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    input_hash: str | None = None
    outcome: str = Field(description="Result of the action, e.g. ok, failed, rejected")
    details_json: str = Field(default="{}", description="Further details, JSON; never secrets")
    at: datetime
    key_id: str | None = Field(default=None, description="Id of the key that signed the record; None: unsigned")
    signature: str | None = Field(
        default=None, description="Ed25519 signature (base64) over the context, key_id and hash; None: unsigned")


# --- SIEM ----------------------------------------------------------------------------------------


class SiemEvent(Record):
    """A flat, self-describing event for SIEM consumers (Splunk, syslog/CEF, ``prisma.siem.events``).

    Key on ``prisma.siem.events``: ``alert_id``.
    """

    event_id: str
    alert_id: str
    asset_id: str
    module: Module
    policy_name: str
    severity: Severity
    score: int = Field(ge=0, le=100)
    tier: RiskTier
    status: AlertStatus
    cloud: Cloud = Cloud.OTHER
    account_id: str = ""
    region: str = ""
    resource_id: str
    summary: str = ""
    ticket_key: str | None = None
    event_time: datetime


# --- Dead letters --------------------------------------------------------------------------------


class DeadLetter(Record):
    """A message a stage could not process, with the reason, kept byte for byte for replay.

    Key on ``prisma.dlq``: the original key.
    """

    original_topic: str
    original_partition: int = Field(ge=0, le=_INT_MAX)
    original_offset: int = Field(ge=0, le=_LONG_MAX)
    original_key: bytes | None = None
    original_value: bytes | None = None
    stage: str = Field(description="The stage that gave up, e.g. normalise, score, sink.jira")
    error_class: str
    error_message: str
    failed_at: datetime
    attempts: int = Field(default=1, ge=1, le=_INT_MAX)
    headers: dict[str, bytes] = Field(
        default_factory=dict,
        description="Headers of the original message; a header without value is kept as b''",
    )


# --- Stage state ----------------------------------------------------------------------------------


class ScoringState(Record):
    """One entry of the scoring stage's changelog: exactly one of the fields is set.

    Key on ``prisma.score.changelog``: ``d:<asset id>|<alert id>``, ``a:<asset id>``, ``h``,
    ``g:<asset id>`` (the asset graph around it) or ``m:<asset id>|<finding key>`` (the last alert of
    an open member, kept so the member can be re-emitted when its incident changes).
    """

    dedupe: DedupeEntry | None = None
    asset: AssetState | None = None
    history: DismissalHistory | None = None
    graph: AssetGraph | None = None
    member: Alert | None = None


# --- The stream core's messages to itself ----------------------------------------------------------


class LinkKind(str, Enum):
    """What an :class:`AssetLink` tells the partition of its target asset."""

    ALIAS = "alias"
    EDGE = "edge"
    MEMBER = "member"


class AssetLink(Record):
    """A message of the stream core to the partition of another asset, about the asset graph.

    Written by the core stage onto its own input topic (``prisma.alerts.raw``), keyed by
    ``target``, inside the transaction of the record that caused it, with the header
    ``prismaflow-record: AssetLink`` (see :mod:`processors.graph`):

    - ``alias``: instance ``hub`` is the host that ``satellite`` (= ``target``) names by host name;
    - ``edge``: ``hub`` and ``satellite`` are linked by ``relation`` (``present``) or no longer are;
    - ``member``: ``alert``, a finding of ``satellite``, for the incidents of ``hub`` (= ``target``).
    """

    kind: LinkKind
    target: str = Field(description="Asset id of the receiving partition's asset; the Kafka key")
    hub: str
    satellite: str
    relation: str = ""
    present: bool = True
    alert: Alert | None = Field(default=None, description="member: the satellite's finding, normalised and enriched")
    at: datetime = Field(description="Record time of the record that caused it; the receiver's now")
