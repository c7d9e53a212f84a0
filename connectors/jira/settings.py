"""Typed settings for the Jira client: where Jira is, who we are, and how tickets are shaped.

The client takes a :class:`JiraSettings` and never reads the environment itself; it is the ``jira``
section of the settings tree (``PRISMAFLOW_JIRA_*`` variables or secret files). One variable holds one
value, so the credentials are also flat fields (``email`` + ``api_token``, or ``bearer_token``, which
wins) from which the model builds its ``auth`` when none is given; given an ``auth``, the flat fields
mirror it. Unknown keys are rejected, so a typo in a setting name fails at start-up.

Two flavours share one client:

* ``cloud``: Jira Cloud, ``/rest/api/3``, rich text as Atlassian Document Format, users by
  ``accountId``, search through ``/search/jql`` with ``nextPageToken``.
* ``datacenter``: Jira Data Center / Server, ``/rest/api/2``, rich text as wiki-markup strings,
  users by ``name``, search through ``/search`` with ``startAt``/``total``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from connectors.auth_fields import auth_from_flat_fields
from connectors.base import RetryPolicy
from connectors.jira.adf.documents import alert_url
from connectors.url_fields import HttpBaseUrl
from processors.models import RiskTier
from processors.records import Priority

__all__ = [
    "BasicAuth",
    "BearerAuth",
    "JiraSettings",
    "OwnerRoute",
    "TransitionNames",
]

_PROJECT_KEY = r"^[A-Z][A-Z0-9_]{0,49}$"
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


class BasicAuth(BaseModel):
    """Jira Cloud scripts and bots: Atlassian account e-mail + API token (DC: user + password)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["basic"] = "basic"
    email: str = Field(min_length=1, description="Account e-mail (Cloud) or user name (DC).")
    api_token: SecretStr = Field(description="API token (Cloud) or password (DC).")


class BearerAuth(BaseModel):
    """A bearer token: a Data Center Personal Access Token or an OAuth 2.0 (3LO) access token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["bearer"] = "bearer"
    token: SecretStr


class OwnerRoute(BaseModel):
    """Where a team's tickets go. Every unset member falls back to the global setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_key: str | None = Field(default=None, pattern=_PROJECT_KEY)
    components: tuple[str, ...] = ()
    assignee: str | None = Field(
        default=None, description="Cloud accountId, or DC user name, of the default assignee."
    )
    labels: tuple[str, ...] = ()


class TransitionNames(BaseModel):
    """Workflow transition names to try, in order, before falling back to status categories.

    Workflows differ per project; the client lists the transitions available on the issue and
    takes the first whose name matches (case-insensitive), else one whose target status is in the
    wanted category (``done`` to resolve, ``new`` to reopen).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolve: tuple[str, ...] = ("Done", "Resolve Issue", "Close Issue", "Close", "Resolve")
    reopen: tuple[str, ...] = ("Reopen", "Reopen Issue", "To Do", "Back to To Do")


def _default_tier_priorities() -> dict[RiskTier, str]:
    return {
        RiskTier.CRITICAL: "Highest",
        RiskTier.HIGH: "High",
        RiskTier.MEDIUM: "Medium",
        RiskTier.LOW: "Low",
    }


def _default_analysis_priorities() -> dict[Priority, str]:
    return {Priority.P1: "Highest", Priority.P2: "High", Priority.P3: "Medium", Priority.P4: "Low"}


class JiraSettings(BaseModel):
    """Where and how to reach one Jira site, and how Prismaflow's tickets look there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: HttpBaseUrl = Field(description="Site base URL, e.g. https://acme.atlassian.net (no /rest)")
    flavour: Literal["cloud", "datacenter"] = Field(
        default="cloud", description="cloud (REST v3, ADF) or datacenter (REST v2, wiki markup)")
    email: str | None = Field(
        default=None, min_length=1, description="Account e-mail (Cloud) or user (DC) for basic auth")
    api_token: SecretStr | None = Field(default=None, description="API token or password (secret)")
    bearer_token: SecretStr | None = Field(
        default=None, description="Bearer token (DC PAT, OAuth); wins over basic auth")
    auth: BasicAuth | BearerAuth = Field(discriminator="kind")
    project_key: str = Field(
        default="SEC", pattern=_PROJECT_KEY, description="Project for new issues (owner routing may override)")
    issue_type: str = Field(default="Task", min_length=1, description="Issue type of new issues")
    tier_priorities: dict[RiskTier, str] = Field(default_factory=_default_tier_priorities)
    analysis_priorities: dict[Priority, str] = Field(default_factory=_default_analysis_priorities)
    labels: tuple[str, ...] = ("prismaflow",)
    components: tuple[str, ...] = ()
    owners: dict[str, OwnerRoute] = Field(
        default_factory=dict, description="Team name (enrichment.team) to its routing."
    )
    fingerprint_label_prefix: str = Field(
        default="prismaflow-fp-", pattern=r"^[A-Za-z0-9_.:-]+$", description="Prefix of the label that marks an "
        "issue as tracking one finding")
    property_key: str = Field(
        default="prismaflow.sync", min_length=1, max_length=255, description="Issue entity property for sync state")
    fingerprint_lookup: Literal["label", "property"] = Field(
        default="label",
        description="How an issue is found by fingerprint: label (always indexed) or property "
        "(needs an app that declares it for JQL indexing)",
    )
    transitions: TransitionNames = Field(default_factory=TransitionNames)
    resolution: str | None = Field(
        default=None,
        description="Resolution name sent with the resolve transition; only when the "
        "transition screen has the field (otherwise Jira answers 400)",
    )
    prisma_console_url: HttpBaseUrl = Field(
        default="https://app.prismacloud.io",
        description="Prisma Cloud app base; alert links are <base>/alerts/overview?alertId=<id>",
    )
    description_limit: int = Field(
        default=32_767, ge=1_000, le=32_767, description="Longest issue description (characters)")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one request")
    search_page_size: int = Field(default=50, ge=1, le=5_000, description="Issues per search page")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @model_validator(mode="before")
    @classmethod
    def _auth_from_flat_fields(cls, data: Any) -> Any:
        """``auth`` from ``bearer_token``, else ``email`` + ``api_token``; or the flat fields from ``auth``."""
        return auth_from_flat_fields(data, "email", "api_token")

    @field_validator("labels")
    @classmethod
    def _no_spaces(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for label in value:
            if not label or _LABEL_UNSAFE.search(label):
                raise ValueError(f"label {label!r} must be non-empty without spaces")
        return value

    @model_validator(mode="after")
    def _every_tier_mapped(self) -> JiraSettings:
        missing = [t.value for t in RiskTier if t not in self.tier_priorities]
        if missing:
            raise ValueError(f"tier_priorities lacks {missing}")
        return self

    @property
    def api_path(self) -> str:
        """``/rest/api/3`` on Cloud, ``/rest/api/2`` on Data Center."""
        return "/rest/api/3" if self.flavour == "cloud" else "/rest/api/2"

    @property
    def uses_adf(self) -> bool:
        """True when descriptions and comments are ADF documents (Cloud v3)."""
        return self.flavour == "cloud"

    def fingerprint_label(self, fingerprint: str) -> str:
        """The label that marks an issue as tracking ``fingerprint`` (``prismaflow-fp-<hash>``).

        Characters a label may not hold are replaced, and the result is capped at Jira's 255.
        """
        safe = _LABEL_UNSAFE.sub("_", fingerprint.strip())
        if not safe:
            raise ValueError("empty fingerprint")
        return (self.fingerprint_label_prefix + safe)[:255]

    def priority_name(self, tier: RiskTier, analysis_priority: Priority | None = None) -> str:
        """The Jira priority for a finding: the analysis' priority when there is one, else the tier's.

        The analysis saw more context (business impact, playbooks) than the score, so it wins.
        """
        if analysis_priority is not None and analysis_priority in self.analysis_priorities:
            return self.analysis_priorities[analysis_priority]
        return self.tier_priorities[tier]

    def browse_url(self, key: str) -> str:
        """The human link to an issue: ``<base>/browse/<KEY>``."""
        return f"{self.base_url}/browse/{key}"

    def alert_url(self, alert_id: str) -> str:
        """The Prisma Cloud console link for an alert id."""
        return alert_url(self.prisma_console_url, alert_id)
