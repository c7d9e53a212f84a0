"""The typed records that travel between Prismaflow's stages.

Each model here has an Avro schema of the same name in ``schemas/`` (``RawAlert`` ↔
``schemas/RawAlert.avsc``); a test keeps the two in step. Models are frozen where they are values
that flow through the pipeline: a stage makes a new record instead of changing one it received.

Timestamps are timezone-aware UTC datetimes (Avro ``timestamp-millis``).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertSource",
    "Module",
    "Severity",
    "AlertStatus",
    "Cloud",
    "Criticality",
    "Environment",
    "UpdateKind",
    "RiskTier",
    "RawAlert",
    "ResourceRef",
    "ComplianceMapping",
    "Vulnerability",
    "Enrichment",
    "Alert",
    "RiskFactor",
    "ScoredAlert",
]


class Record(BaseModel):
    """Base of every record Prismaflow puts on a topic: a frozen value (a stage makes a new record
    instead of changing one it received) that rejects unknown fields and keeps enum members."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class AlertSource(str, Enum):
    """Where a raw alert entered Prismaflow."""

    CSPM_API = "cspm_api"
    CSPM_WEBHOOK = "cspm_webhook"
    COMPUTE_API = "compute_api"
    COMPUTE_WEBHOOK = "compute_webhook"


class Module(str, Enum):
    """The Prisma Cloud module that produced a finding."""

    CSPM = "CSPM"
    CWPP = "CWPP"
    CIEM = "CIEM"
    CODE = "CODE"


class Severity(str, Enum):
    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertStatus(str, Enum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"
    SNOOZED = "snoozed"


class Cloud(str, Enum):
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    OCI = "oci"
    ALIBABA = "alibaba_cloud"
    OTHER = "other"


class Criticality(str, Enum):
    UNKNOWN = "unknown"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Environment(str, Enum):
    UNKNOWN = "unknown"
    DEV = "dev"
    TEST = "test"
    STAGING = "staging"
    PROD = "prod"


class UpdateKind(str, Enum):
    """How a scored record relates to what was passed downstream before for the same alert."""

    NEW = "new"
    STATUS_CHANGE = "status_change"
    RECURRENCE = "recurrence"


class RiskTier(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RawAlert(Record):
    """An alert exactly as a source received it, before any interpretation.

    Key on ``prisma.alerts.raw``: the canonical asset id (``processors.pipeline.raw_alert_key``).
    """

    ingest_id: str = Field(description="UUID given at ingestion; unique per received copy")
    source: AlertSource
    source_alert_id: str = Field(description="The alert's id in Prisma Cloud (e.g. P-123456)")
    tenant: str = Field(default="default", description="Prisma Cloud tenant / stack the alert came from")
    received_at: datetime
    payload_json: str = Field(description="The original JSON payload, unchanged")
    content_hash: str = Field(description="SHA-256 of payload_json, hex")


class ResourceRef(Record):
    """The cloud resource a finding is about."""

    asset_id: str = Field(description="Canonical asset id shared by every module's view of one asset")
    resource_id: str
    name: str = ""
    resource_type: str = ""
    cloud: Cloud = Cloud.OTHER
    account_id: str = ""
    account_name: str = ""
    region: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    account_groups: list[str] = Field(
        default_factory=list, description="Prisma Cloud account groups of the account (resource.cloudAccountGroups)"
    )


class ComplianceMapping(Record):
    standard: str
    requirement: str = ""
    section: str = ""


class Vulnerability(Record):
    cve: str
    cvss: float | None = None
    package: str = ""
    installed_version: str = ""
    fixed_version: str = ""
    epss: float | None = Field(default=None, description="EPSS probability 0-1, filled by enrichment")
    in_kev: bool = Field(default=False, description="Listed in the CISA KEV catalogue")


class Enrichment(Record):
    """Context added to an alert by the enrichment step."""

    internet_exposed: bool = False
    exploitability: float = Field(default=0.0, description="0-1: max EPSS, 1.0 when any CVE is in KEV")
    in_kev: bool = False
    criticality: Criticality = Criticality.UNKNOWN
    environment: Environment = Environment.UNKNOWN
    data_sensitivity: str = Field(default="unknown", description="public/internal/confidential/restricted/unknown")
    owner: str = ""
    team: str = ""
    resource_config_json: str = Field(default="", description="Resource configuration from the Prisma API, JSON")
    feeds_as_of: str = Field(default="", description="Dates of the EPSS/KEV snapshots used")
    exposure_reason: str = Field(default="", description="Why the resource counts as internet-exposed; empty when not")
    admin_exposed: bool = Field(
        default=False,
        description="An administrative service (SSH, RDP, WinRM, Telnet) or every port is open to the internet",
    )


class Alert(Record):
    """A normalised, enriched finding from any Prisma Cloud module.

    Key on ``prisma.alerts``: ``resource.asset_id``.
    """

    alert_id: str = Field(description="Prisma Cloud's alert id, or a stable id derived for Compute findings")
    source: AlertSource
    module: Module
    policy_id: str
    policy_name: str
    policy_type: str = Field(default="", description="config, network, audit_event, iam, vulnerability, runtime, ...")
    severity: Severity
    status: AlertStatus
    status_reason: str = ""
    description: str = ""
    recommendation: str = ""
    resource: ResourceRef
    compliance: list[ComplianceMapping] = Field(default_factory=list)
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    first_seen: datetime
    last_seen: datetime
    status_changed_at: datetime | None = None
    ingested_at: datetime = Field(description="When the raw alert entered Prismaflow (for end-to-end latency)")
    enrichment: Enrichment = Field(default_factory=Enrichment)
    content_hash: str = Field(description="Hash of the fields that make a change meaningful (status, severity, resource)")


class RiskFactor(Record):
    """One reason for a score: what was seen, its weight, and what it added."""

    name: str
    weight: float
    value: float = Field(description="0-1 strength of the factor for this alert")
    contribution: float = Field(description="weight * value, in score points")
    reason: str


class ScoredAlert(Record):
    """An alert after dedupe, correlation and scoring.

    Key on ``prisma.alerts.scored``: ``alert.resource.asset_id``.
    """

    alert: Alert
    update_kind: UpdateKind
    score: int = Field(ge=0, le=100)
    tier: RiskTier
    factors: list[RiskFactor] = Field(default_factory=list)
    incident_id: str | None = Field(default=None, description="Set when correlated with other findings on the asset")
    incident_members: list[str] = Field(default_factory=list, description="alert_ids in the incident")
    suggested_dismissal: bool = False
    suggestion_reason: str = ""
    scored_at: datetime
    incident_update: bool = Field(
        default=False,
        description="A member re-emitted because its incident formed or changed; the finding itself did not change")
