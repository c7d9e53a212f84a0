"""The simulated Jira's data: issues, their properties and comments, and the project workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Issue", "IssueStore", "Status", "Transition", "Workflow", "approval_workflow", "default_workflow",
           "jira_time"]

_CATEGORIES = {"new": (2, "To Do", "blue-gray"), "indeterminate": (4, "In Progress", "yellow"),
               "done": (3, "Done", "green")}


def jira_time(ts: float) -> str:
    """Jira's timestamp format: ``2021-01-17T12:34:00.000+0000``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class Status:
    """A workflow status and its category key (``new``, ``indeterminate``, ``done``)."""

    id: str
    name: str
    category: str

    def as_json(self, base: str) -> dict[str, Any]:
        cat_id, cat_name, colour = _CATEGORIES[self.category]
        return {"self": f"{base}/rest/api/2/status/{self.id}", "id": self.id, "name": self.name,
                "statusCategory": {"id": cat_id, "key": self.category, "name": cat_name,
                                   "colorName": colour}}


@dataclass(frozen=True)
class Transition:
    """A transition ``id``/``name`` from any of ``sources`` (empty: global) to ``target``."""

    id: str
    name: str
    sources: tuple[str, ...]
    target: str


@dataclass(frozen=True)
class Workflow:
    """Statuses by name, the initial one, and the transitions between them."""

    statuses: dict[str, Status]
    initial: str
    transitions: tuple[Transition, ...]

    def available(self, status: str) -> list[Transition]:
        return [t for t in self.transitions if not t.sources or status in t.sources]


def default_workflow() -> Workflow:
    """To Do → In Progress → Done, back with "Stop Progress", and Done → To Do by "Reopen"."""
    statuses = {s.name: s for s in (Status("10000", "To Do", "new"),
                                     Status("3", "In Progress", "indeterminate"),
                                     Status("10001", "Done", "done"))}
    return Workflow(statuses, "To Do", (
        Transition("11", "Start Progress", ("To Do",), "In Progress"),
        Transition("21", "Done", ("In Progress",), "Done"),
        Transition("31", "Stop Progress", ("In Progress",), "To Do"),
        Transition("41", "Reopen", ("Done",), "To Do"),
    ))


def approval_workflow() -> Workflow:
    """The default workflow plus an approval step: To Do → Pending Approval → Approved or Rejected
    (by a person), "Needs Another Approval" from Approved back to Pending Approval (a request
    that needs more approvers than one transition gives), and "Remediated" from Pending Approval or
    Approved to Done (the executor, once the approved fix ran and Prisma Cloud confirms it)."""
    base = default_workflow()
    statuses = {**base.statuses, **{s.name: s for s in (Status("10100", "Pending Approval", "indeterminate"),
                                                         Status("10101", "Approved", "done"),
                                                         Status("10102", "Rejected", "done"))}}
    return Workflow(statuses, base.initial, (*base.transitions,
        Transition("51", "Request Approval", ("To Do",), "Pending Approval"),
        Transition("61", "Approve", ("Pending Approval",), "Approved"),
        Transition("71", "Reject", ("Pending Approval",), "Rejected"),
        Transition("81", "Needs Another Approval", ("Approved",), "Pending Approval"),
        Transition("91", "Remediated", ("Pending Approval", "Approved"), "Done"),
    ))


@dataclass
class Issue:
    """One issue: Jira's fields as set (rich text kept as sent), properties, comments."""

    id: int
    key: str
    project: str
    fields: dict[str, Any]
    created: float
    updated: float
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    changelog: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.fields["status"])


class IssueStore:
    """All issues of the site, numbered per project (``SEC-1``, ``SEC-2``...)."""

    def __init__(self, base_url: str, projects: dict[str, str], workflow: Workflow,
                 first_id: int) -> None:
        self.base_url = base_url
        self.projects = projects
        self.workflow = workflow
        self.issues: dict[str, Issue] = {}
        self._by_id: dict[str, str] = {}
        self._next_id = first_id
        self._counters: dict[str, int] = {}
        self._comment_id = 10_000
        self._history_id = 20_000

    def add(self, project: str, fields: dict[str, Any], now: float) -> Issue:
        self._next_id += 1
        self._counters[project] = self._counters.get(project, 0) + 1
        key = f"{project}-{self._counters[project]}"
        fields = {**fields, "status": self.workflow.initial, "resolution": None}
        issue = Issue(self._next_id, key, project, fields, now, now)
        self.issues[key] = issue
        self._by_id[str(issue.id)] = key
        return issue

    def get(self, id_or_key: str) -> Issue | None:
        key = self._by_id.get(id_or_key, id_or_key.upper())
        return self.issues.get(key)

    def add_comment(self, issue: Issue, body: Any, author: str, now: float) -> dict[str, Any]:
        self._comment_id += 1
        stamp = jira_time(now)
        user = {"accountId": author, "displayName": author, "active": True}
        comment = {"id": str(self._comment_id),
                   "self": f"{self.base_url}/rest/api/3/issue/{issue.id}/comment/{self._comment_id}",
                   "author": user, "updateAuthor": user, "body": body, "created": stamp,
                   "updated": stamp}
        issue.comments.append(comment)
        issue.updated = now
        return comment

    def transition(self, issue: Issue, transition: Transition, now: float,
                   resolution: str | None, author: str = "") -> None:
        """Move ``issue`` along ``transition``; the changelog records who (``author``) and what changed."""
        source = self.workflow.statuses[issue.status]
        target = self.workflow.statuses[transition.target]
        old_resolution = issue.fields.get("resolution")
        issue.fields["status"] = target.name
        if target.category == "done":
            issue.fields["resolution"] = resolution or "Done"
        else:
            issue.fields["resolution"] = None
        issue.updated = now
        items: list[dict[str, Any]] = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": source.id,
                  "fromString": source.name, "to": target.id, "toString": target.name}]
        if issue.fields["resolution"] != old_resolution:
            items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": None,
                          "fromString": old_resolution, "to": None, "toString": issue.fields["resolution"]})
        self._history_id += 1
        issue.changelog.append({"id": str(self._history_id),
                                "author": {"accountId": author, "displayName": author, "active": True},
                                "created": jira_time(now), "items": items})

    # -- representation ------------------------------------------------------------------------

    def status_json(self, name: str) -> dict[str, Any]:
        return self.workflow.statuses[name].as_json(self.base_url)

    def transition_json(self, t: Transition) -> dict[str, Any]:
        return {"id": t.id, "name": t.name, "to": self.status_json(t.target), "hasScreen": False,
                "isGlobal": not t.sources, "isInitial": False, "isAvailable": True,
                "isConditional": False, "isLooped": False}

    def field_json(self, issue: Issue, name: str, version: str) -> Any:
        f = issue.fields
        if name == "status":
            return self.status_json(issue.status)
        if name == "resolution":
            return {"name": f["resolution"]} if f.get("resolution") else None
        if name == "project":
            return {"key": issue.project, "name": self.projects[issue.project],
                    "id": str(10_000 + list(self.projects).index(issue.project))}
        if name == "created":
            return jira_time(issue.created)
        if name == "updated":
            return jira_time(issue.updated)
        if name in ("priority", "issuetype"):
            return {"name": f[name]} if f.get(name) else None
        if name == "components":
            return [{"name": c} for c in f.get("components", [])]
        if name == "assignee":
            who = f.get("assignee")
            if not who:
                return None
            return {"accountId": who, "displayName": who} if version == "3" else {"name": who}
        return f.get(name)

    ALL_FIELDS = ("summary", "description", "issuetype", "project", "priority", "labels",
                  "components", "assignee", "status", "resolution", "created", "updated")

    def bean(self, issue: Issue, version: str, fields: list[str] | None,
             properties: list[str]) -> dict[str, Any]:
        """An ``IssueBean``: ``fields`` None means all; ``["id"]`` means identity only."""
        out: dict[str, Any] = {"id": str(issue.id), "key": issue.key,
                               "self": f"{self.base_url}/rest/api/{version}/issue/{issue.id}"}
        names = list(self.ALL_FIELDS) if fields is None else _select(fields, self.ALL_FIELDS)
        if names:
            out["fields"] = {n: self.field_json(issue, n, version) for n in names}
        props = {k: issue.properties[k] for k in properties if k in issue.properties}
        if props:
            out["properties"] = props
        return out

    def jql_values(self, issue: Issue, name: str, indexed: frozenset[str]) -> list[str]:
        """An issue's values for a JQL field; unknown fields raise ``KeyError``."""
        lower = name.lower()
        if lower.startswith("issue.property["):
            prop, _, path = lower[len("issue.property["):].partition("]")
            original = name[len("issue.property["):len("issue.property[") + len(prop)]
            if original not in indexed or original not in issue.properties:
                return []  # not indexed: plain REST properties are invisible to JQL
            value: Any = issue.properties[original]
            for part in [p for p in path.split(".") if p]:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                return []
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        status = self.workflow.statuses[issue.status]
        simple: dict[str, list[str]] = {
            "project": [issue.project, self.projects[issue.project]],
            "key": [issue.key], "issuekey": [issue.key], "id": [str(issue.id)],
            "labels": list(issue.fields.get("labels", [])),
            "status": [status.name, status.id],
            "statuscategory": [status.category, _CATEGORIES[status.category][1]],
            "priority": [issue.fields.get("priority") or ""],
            "resolution": [issue.fields.get("resolution") or ""],
            "assignee": [issue.fields.get("assignee") or ""],
            "issuetype": [issue.fields.get("issuetype") or ""],
            "type": [issue.fields.get("issuetype") or ""],
            "component": list(issue.fields.get("components", [])),
            "summary": [issue.fields.get("summary") or ""],
            "text": [issue.fields.get("summary") or "", str(issue.fields.get("description"))],
            "created": [jira_time(issue.created)], "updated": [jira_time(issue.updated)],
        }
        if lower not in simple:
            raise KeyError(name)
        return simple[lower]


def _select(requested: list[str], every: tuple[str, ...]) -> list[str]:
    chosen: list[str] = []
    for item in requested:
        if item in ("*all", "*navigable"):
            chosen.extend(every)
        elif item in every:
            chosen.append(item)
    excluded = {item[1:] for item in requested if item.startswith("-")}
    return [n for n in dict.fromkeys(chosen) if n not in excluded]
