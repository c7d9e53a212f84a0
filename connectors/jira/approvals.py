"""Reading approval votes out of Jira: the tickets that stand for remediation requests, and who
moved them between workflow statuses.

A remediation request's ticket carries the label :data:`APPROVAL_LABEL` and the issue property
:data:`REQUEST_PROPERTY` (``{"request_id": ..., "plan_digest": ...}``), set when the ticket is raised.
A person moving it from "Pending Approval" to "Approved" or "Rejected" is a vote by that person; the
issue's changelog (``GET /rest/api/3/issue/{key}/changelog``, a ``PageBeanChangelog`` whose
``values`` are histories with an ``author.accountId``, a ``created`` time and ``items`` such as
``{"field": "status", "fromString": "Pending Approval", "toString": "Approved"}``) says who did it.
Jira Cloud only: Data Center has no paged changelog route. Pure httpx through
:class:`~connectors.jira.client.JiraClient`; no Kafka, no desk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.jira._http import jql_string
from connectors.jira.client import JiraClient

__all__ = ["APPROVAL_LABEL", "REQUEST_PROPERTY", "ApprovalTicket", "JiraApprovalClient", "StatusChange"]

APPROVAL_LABEL = "prismaflow-approval"
REQUEST_PROPERTY = "prismaflow.remediation"
_PAGE = 100


class ApprovalTicket(BaseModel):
    """A ticket standing for one remediation request."""

    model_config = ConfigDict(frozen=True)

    key: str
    status: str
    request_id: str
    plan_digest: str


class StatusChange(BaseModel):
    """One status transition from an issue's changelog: who, when, from where to where."""

    model_config = ConfigDict(frozen=True)

    history_id: int
    issue_key: str
    account_id: str
    created: str
    from_status: str
    to_status: str


class _RequestProperty(BaseModel):
    request_id: str
    plan_digest: str


class JiraApprovalClient(JiraClient):
    """A :class:`JiraClient` that also lists approval tickets and their status changes."""

    async def approval_tickets(self, statuses: Sequence[str]) -> AsyncIterator[ApprovalTicket]:
        """Tickets labelled :data:`APPROVAL_LABEL` in one of ``statuses``, with their request property;
        a ticket without a readable property is skipped (it is not ours to count)."""
        jql = (f"labels = {jql_string(APPROVAL_LABEL)} AND status in "
               f"({', '.join(jql_string(status) for status in statuses)}) ORDER BY key ASC")
        async for issue in self.search(jql):
            raw = await self.get_property(issue.key, REQUEST_PROPERTY)
            try:
                prop = _RequestProperty.model_validate(raw)
            except ValidationError:
                continue
            yield ApprovalTicket(key=issue.key, status=issue.status, request_id=prop.request_id,
                                 plan_digest=prop.plan_digest)

    async def status_changes(self, key: str) -> list[StatusChange]:
        """Every status transition of issue ``key``, oldest first (all pages of its changelog)."""
        changes: list[StatusChange] = []
        start = 0
        while True:
            response = await self._send("GET", f"/issue/{quote(key, safe='')}/changelog",
                                        params={"startAt": str(start), "maxResults": str(_PAGE)})
            page = self._json(response)
            values = page.get("values") or []
            for history in values:
                changes.extend(_status_items(key, history))
            start += len(values)
            if not values or page.get("isLast", start >= int(page.get("total", 0))):
                return changes


def _status_items(key: str, history: object) -> list[StatusChange]:
    if not isinstance(history, dict) or not str(history.get("id", "")).isdigit():
        return []
    author = history.get("author") if isinstance(history.get("author"), dict) else {}
    account = str((author or {}).get("accountId") or "")
    return [StatusChange(history_id=int(history["id"]), issue_key=key, account_id=account,
                         created=str(history.get("created", "")), from_status=str(item.get("fromString") or ""),
                         to_status=str(item.get("toString") or ""))
            for item in history.get("items") or [] if isinstance(item, dict) and item.get("field") == "status"]
