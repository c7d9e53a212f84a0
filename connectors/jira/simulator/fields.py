"""Checking the fields a create or edit sets, and entity property values, as Jira does.

Each settable field has its own check; :func:`check_fields` runs those the request names (all the
required ones on create) and raises one ``ErrorCollection`` with every problem, field by field.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.jira.simulator.handling import Invalid, rich_problem
from connectors.jira.simulator.runtime import SimConfig
from connectors.jira.simulator.validation import jira_error

__all__ = ["check_fields", "check_property"]

SETTABLE = {"project", "issuetype", "summary", "description", "priority", "labels", "components",
            "assignee", "duedate", "environment"}
BAD_PROPERTY = "The property value must be valid, non-empty JSON of at most 32768 characters."

Checked = tuple[str | None, Any]
"""A field's problem (None when fine) and its normalised value."""


def _project(raw: Any, cfg: SimConfig) -> Checked:
    key = str(raw.get("key") or raw.get("id") or "") if isinstance(raw, dict) else ""
    if not key:
        return "Specify a valid project ID or key", ""
    return (None if key.upper() in cfg.projects else "valid project is required"), key.upper()


def _issue_type(raw: Any, cfg: SimConfig) -> Checked:
    type_name = raw.get("name") if isinstance(raw, dict) else None
    if not type_name:
        return "Specify an issue type", type_name
    return (None if type_name in cfg.issue_types else "valid issue type is required"), type_name


def _summary(summary: Any) -> Checked:
    if not isinstance(summary, str) or not summary.strip():
        return "You must specify a summary of the issue.", summary
    if len(summary) > 255:
        return "Summary must be less than 255 characters.", summary
    if "\n" in summary or "\r" in summary:
        return "The summary is invalid because it contains newline characters.", summary
    return None, summary


def _priority(raw: Any, cfg: SimConfig) -> Checked:
    priority = raw.get("name") if isinstance(raw, dict) else None
    return (None if priority in cfg.priorities else "The priority selected is invalid."), priority


def _labels(labels: Any) -> Checked:
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return "Labels must be a list of strings.", None
    bad = [x for x in labels if not x or " " in x or len(x) > 255]
    problem = f"The label '{bad[0]}' contains spaces which is invalid." if bad else None
    return problem, list(dict.fromkeys(labels))


def _components(raw: Any, cfg: SimConfig) -> Checked:
    names = [c.get("name") for c in raw or [] if isinstance(c, dict)]
    unknown = [n for n in names if cfg.components is not None and n not in cfg.components]
    if unknown or None in names:
        return f"Component name '{unknown[0] if unknown else ''}' is not valid", names
    return None, names


def _assignee(raw: Any, cfg: SimConfig, version: str) -> Checked:
    who = raw.get("accountId" if version == "3" else "name") if isinstance(raw, dict) else None
    if not who or (cfg.assignable is not None and who not in cfg.assignable):
        return "Specified user does not exist or you do not have required permissions", who
    return None, who


def _checks(fields: dict[str, Any], cfg: SimConfig, version: str,
            creating: bool) -> list[tuple[str, Checked]]:
    """The checks that apply, in Jira's order: required fields, rich text, then optional ones."""
    out: list[tuple[str, Checked]] = []
    if creating or "project" in fields:
        out.append(("project", _project(fields.get("project") or {}, cfg)))
    if creating or "issuetype" in fields:
        out.append(("issuetype", _issue_type(fields.get("issuetype") or {}, cfg)))
    if creating or "summary" in fields:
        out.append(("summary", _summary(fields.get("summary"))))
    for rich in ("description", "environment"):
        if fields.get(rich) is not None:
            out.append((rich, (rich_problem(fields[rich], version), fields[rich])))
    if "priority" in fields:
        out.append(("priority", _priority(fields["priority"] or {}, cfg)))
    if "labels" in fields:
        out.append(("labels", _labels(fields["labels"])))
    if "components" in fields:
        out.append(("components", _components(fields["components"], cfg)))
    if fields.get("assignee") is not None:
        out.append(("assignee", _assignee(fields["assignee"], cfg, version)))
    return out


def check_fields(cfg: SimConfig, fields: dict[str, Any], version: str,
                 creating: bool) -> dict[str, Any]:
    """Validate settable fields; returns them normalised (names, lists of strings)."""
    errors = {name: (f"Field '{name}' cannot be set. It is not on the appropriate screen, or "
                     "unknown.") for name in fields if name not in SETTABLE}
    out: dict[str, Any] = {}
    for name, (problem, value) in _checks(fields, cfg, version, creating):
        if problem:
            errors[name] = problem
        if not (name == "labels" and value is None):
            out[name] = value
    if errors:
        raise Invalid(jira_error(400, [], errors))
    return out


def check_property(key: str, value: Any) -> None:
    """Refuse an entity property key over 255 characters or a value that is empty or too big."""
    if len(key) > 255:
        raise Invalid(jira_error(400, ["The property key cannot be longer than 255 characters."]))
    if value is None or value == {} or len(json.dumps(value)) > 32_768:
        raise Invalid(jira_error(400, [BAD_PROPERTY]))
