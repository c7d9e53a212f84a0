"""Typed views of the Jira resources the client reads and writes.

Only the members Prismaflow uses are modelled; everything else in Jira's answers is ignored, so a
new field on Atlassian's side never breaks parsing. Parsing failures become
:class:`connectors.base.ResponseFormatError` in the client.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CreatedIssue",
    "IssueDraft",
    "JiraErrorDetails",
    "JiraIssue",
    "JiraTransition",
    "SyncProperty",
]


class IssueDraft(BaseModel):
    """The fields of an issue to create: what the sink decided, before Jira numbers it.

    ``description`` is an ADF document (Cloud) or a wiki-markup string (Data Center).
    ``assignee`` is a Cloud accountId or a DC user name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_key: str
    issue_type: str
    summary: str = Field(min_length=1, max_length=255)
    description: dict[str, Any] | str
    priority: str | None = None
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    assignee: str | None = None


class CreatedIssue(BaseModel):
    """``201`` of ``POST /issue``: ``{"id","key","self"}``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str
    key: str
    self_url: str = Field(default="", alias="self")


class SyncProperty(BaseModel):
    """The entity property Prismaflow keeps on each issue it manages.

    It ties the issue to a finding (``fingerprint``) and records what was last written
    (``last_synced_hash``), so after a crash the sink can tell whether its last update landed.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    fingerprint: str
    last_synced_hash: str = ""
    alert_ids: list[str] = Field(default_factory=list)
    schema_version: int = 1


class JiraIssue(BaseModel):
    """An issue as the client needs it: identity, workflow position and the fields we manage."""

    model_config = ConfigDict(frozen=True)

    id: str
    key: str
    summary: str = ""
    status: str = ""
    status_category: str = Field(default="", description="new, indeterminate or done")
    resolution: str | None = None
    priority: str | None = None
    labels: list[str] = Field(default_factory=list)
    project_key: str = ""
    properties: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_done(self) -> bool:
        """True when the issue sits in a status of the ``done`` category."""
        return self.status_category == "done"

    @classmethod
    def from_bean(cls, bean: dict[str, Any]) -> JiraIssue:
        """Build from Jira's ``IssueBean`` (``{"id","key","fields":{...},"properties":{...}}``)."""
        fields: dict[str, Any] = bean.get("fields") or {}
        status = fields.get("status") or {}
        category = status.get("statusCategory") or {}
        resolution = fields.get("resolution") or {}
        priority = fields.get("priority") or {}
        project = fields.get("project") or {}
        return cls(
            id=str(bean["id"]),
            key=str(bean.get("key", "")),
            summary=str(fields.get("summary") or ""),
            status=str(status.get("name", "")),
            status_category=str(category.get("key", "")),
            resolution=resolution.get("name"),
            priority=priority.get("name"),
            labels=list(fields.get("labels") or []),
            project_key=str(project.get("key", "")),
            properties=dict(bean.get("properties") or {}),
        )


class JiraTransition(BaseModel):
    """One transition available on an issue (``GET /issue/{key}/transitions``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    to_status: str = ""
    to_category: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> JiraTransition:
        to: dict[str, Any] = raw.get("to") or {}
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name", "")),
            to_status=str(to.get("name", "")),
            to_category=str((to.get("statusCategory") or {}).get("key", "")),
        )


class JiraErrorDetails(BaseModel):
    """Jira's ``ErrorCollection``: request-level ``errorMessages`` and per-field ``errors``."""

    model_config = ConfigDict(frozen=True)

    error_messages: list[str] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        """One line for a log or a dead-letter reason: ``msg; field: msg``."""
        parts = [*self.error_messages, *(f"{k}: {v}" for k, v in sorted(self.errors.items()))]
        return "; ".join(parts)
