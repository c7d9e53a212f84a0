"""Typed settings for the ServiceNow Table API client.

The client takes a :class:`ServiceNowSettings` and never reads the environment; it is the
``servicenow`` section of the settings tree (``PRISMAFLOW_SERVICENOW_*`` variables or secret files).
One variable holds one value, so the credentials are also flat fields (``username`` + ``password``, or
``bearer_token``, which wins) from which the model builds its ``auth`` when none is given; given an
``auth``, the flat fields mirror it. Unknown keys are rejected so a misspelt setting fails at start-up.

Two tables are supported: ``incident`` (ITSM) and ``sn_si_incident`` (Security Incident Response).
They differ in their state codes, so :attr:`ServiceNowSettings.state_values` picks the right set
unless ``states`` overrides it (instances customise state models).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.auth_fields import auth_from_flat_fields
from connectors.base import RetryPolicy
from connectors.url_fields import HttpBaseUrl
from processors.models import RiskTier

__all__ = [
    "INCIDENT_STATES",
    "SECURITY_INCIDENT_STATES",
    "BasicAuth",
    "BearerAuth",
    "ImpactLevel",
    "ServiceNowAuth",
    "ServiceNowSettings",
    "ServiceNowTable",
    "StateValues",
]

#: ServiceNow's impact/urgency scale: "1" High, "2" Medium, "3" Low (values are strings on the wire).
ImpactLevel = Literal["1", "2", "3"]


class ServiceNowTable(str, Enum):
    """The table tickets are written to."""

    INCIDENT = "incident"
    SECURITY_INCIDENT = "sn_si_incident"


class StateValues(BaseModel):
    """The ``state`` codes the client writes and reads for one table.

    ``resolved`` is what :meth:`ServiceNowClient.resolve` sets; ``closed`` and ``canceled`` are
    final (the record turns inactive); ``in_progress`` is where :meth:`reopen` puts a record back.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    new: str
    in_progress: str
    resolved: str
    closed: str
    canceled: str


#: ``incident``: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled.
INCIDENT_STATES = StateValues(new="1", in_progress="2", resolved="6", closed="7", canceled="8")
#: ``sn_si_incident``: 10 Draft, 16 Analysis, 18 Contain, 19 Eradicate, 3 Closed, 7 Cancelled.
#: SIR has no separate "Resolved" state: resolving closes.
SECURITY_INCIDENT_STATES = StateValues(
    new="10", in_progress="16", resolved="3", closed="3", canceled="7"
)


class BasicAuth(BaseModel):
    """Basic auth with an integration user (subject to ACLs like an interactive user)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["basic"] = "basic"
    username: str = Field(min_length=1)
    password: SecretStr


class BearerAuth(BaseModel):
    """An OAuth 2.0 access token obtained elsewhere (``/oauth_token.do``), sent as Bearer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["bearer"] = "bearer"
    token: SecretStr


ServiceNowAuth = Annotated[BasicAuth | BearerAuth, Field(discriminator="kind")]


def _default_urgency() -> dict[RiskTier, ImpactLevel]:
    return {RiskTier.CRITICAL: "1", RiskTier.HIGH: "2", RiskTier.MEDIUM: "2", RiskTier.LOW: "3"}


def _default_impact() -> dict[RiskTier, ImpactLevel]:
    # With the default priority lookup: critical 1/1 -> P1, high 2/1 -> P2, medium 2/2 -> P3,
    # low 3/2 -> P4.
    return {RiskTier.CRITICAL: "1", RiskTier.HIGH: "1", RiskTier.MEDIUM: "2", RiskTier.LOW: "2"}


class ServiceNowSettings(BaseModel):
    """Where and how to reach one ServiceNow instance, and how findings map onto its records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_url: HttpBaseUrl = Field(description="https://<instance>.service-now.com")
    table: ServiceNowTable = Field(default=ServiceNowTable.INCIDENT, description="incident or sn_si_incident")
    username: str | None = Field(default=None, min_length=1, description="Integration user (basic auth)")
    password: SecretStr | None = Field(default=None, description="Its password (secret)")
    bearer_token: SecretStr | None = Field(default=None, description="OAuth access token; wins over basic auth")
    auth: ServiceNowAuth
    urgency_by_tier: dict[RiskTier, ImpactLevel] = Field(default_factory=_default_urgency)
    impact_by_tier: dict[RiskTier, ImpactLevel] = Field(default_factory=_default_impact)
    team_groups: dict[str, str] = Field(
        default_factory=dict, description="Owning team -> assignment_group (sys_id); one variable per team, "
        "`<VARIABLE>__<TEAM>` (the team in lower case)"
    )
    owner_groups: dict[str, str] = Field(
        default_factory=dict, description="Owner (e-mail) -> assignment_group; wins over team; one variable per "
        "owner, `<VARIABLE>__<OWNER>` (lower case)"
    )
    default_assignment_group: str = Field(default="", description="Assignment group when no route matches")
    caller_id: str = Field(default="", description="sys_user sys_id of the integration caller")
    category: str = Field(default="security", description="Category (choice values are instance-specific)")
    subcategory: str = Field(default="", description="Subcategory")
    correlation_display: str = Field(default="Prismaflow", description="correlation_display of the records")
    close_code: str = Field(
        default="Resolved by caller",
        description="Resolution code; older releases use e.g. 'Solved (Permanently)'",
    )
    close_notes: str = Field(
        default="Resolved in Prisma Cloud: the finding is no longer open.", description="Close notes")
    states: StateValues | None = Field(default=None, description="Override the table's states.")
    short_description_max: int = Field(default=160, ge=20, le=160, description="Longest short description")
    description_max: int = Field(default=4000, ge=100, description="Longest description")
    find_limit: int = Field(
        default=5, ge=1, le=100, description="sysparm_limit of a correlation lookup (>1 spots duplicates)"
    )
    request_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one request")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @model_validator(mode="before")
    @classmethod
    def _auth_from_flat_fields(cls, data: Any) -> Any:
        """``auth`` from ``bearer_token``, else ``username`` + ``password``; or the flat fields from ``auth``."""
        return auth_from_flat_fields(data, "username", "password")

    @field_validator("urgency_by_tier", "impact_by_tier")
    @classmethod
    def _every_tier(cls, value: dict[RiskTier, ImpactLevel]) -> dict[RiskTier, ImpactLevel]:
        missing = set(RiskTier) - set(value)
        if missing:
            raise ValueError(f"no value for tiers {sorted(t.value for t in missing)}")
        return value

    @property
    def state_values(self) -> StateValues:
        """The explicit ``states``, else the table's documented defaults."""
        if self.states is not None:
            return self.states
        if self.table is ServiceNowTable.SECURITY_INCIDENT:
            return SECURITY_INCIDENT_STATES
        return INCIDENT_STATES

    @property
    def table_path(self) -> str:
        """``/api/now/table/<table>``."""
        return f"/api/now/table/{self.table.value}"

    def assignment_group_for(self, team: str, owner: str) -> str:
        """The group a finding is routed to: by owner, then team, then the default."""
        if owner and owner in self.owner_groups:
            return self.owner_groups[owner]
        if team and team in self.team_groups:
            return self.team_groups[team]
        return self.default_assignment_group
