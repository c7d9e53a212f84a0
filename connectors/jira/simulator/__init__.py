"""A local Jira (Cloud by default, or Data Center) speaking the public REST API, for tests and demos.

One Starlette ASGI app (:class:`JiraSimulator`) serves ``/rest/api/3`` (ADF) and ``/rest/api/2``
(strings): create with field and ADF validation, get and edit, entity properties, comments,
transitions over a small workflow (To Do → In Progress → Done, Done → To Do by "Reopen";
``approval_workflow()`` adds Pending Approval → Approved or Rejected), each transition recorded in
the issue's changelog with its author (``/issue/{key}/changelog``, Cloud), JQL
search (``/search/jql`` with ``nextPageToken``; ``/search`` answers 410 on Cloud and pages by
``startAt`` on Data Center), basic and bearer auth, read-only users, a per-user token bucket with
Jira's rate-limit headers, and an admin API under ``/_sim`` (faults, stats, issues, time).
Run it with ``python -m connectors.jira.simulator --port 8281``.
"""

from __future__ import annotations

from connectors.jira.simulator.core import JiraSimulator
from connectors.jira.simulator.runtime import Fault, SimClock, SimConfig
from connectors.jira.simulator.store import (
    Status,
    Transition,
    Workflow,
    approval_workflow,
    default_workflow,
)
from connectors.jira.simulator.validation import adf_problems

__all__ = [
    "Fault",
    "JiraSimulator",
    "SimClock",
    "SimConfig",
    "Status",
    "Transition",
    "Workflow",
    "adf_problems",
    "approval_workflow",
    "default_workflow",
]
