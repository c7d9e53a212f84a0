"""Jira Cloud (REST v3, ADF) and Data Center (REST v2, wiki markup): client, ticket content, simulator.

* :mod:`connectors.jira.settings`: :class:`JiraSettings`.
* :mod:`connectors.jira.client`: :class:`JiraClient` (pure httpx, no Kafka).
* :mod:`connectors.jira.adf` / :mod:`connectors.jira.wiki`: descriptions and comments.
* :mod:`connectors.jira.tickets`: a finding → an :class:`IssueDraft`.
* :mod:`connectors.jira.simulator`: the local Jira (``python -m connectors.jira.simulator``).
"""

from __future__ import annotations

from connectors.jira.client import JiraClient, WorkflowError, error_details
from connectors.jira.models import (
    CreatedIssue,
    IssueDraft,
    JiraIssue,
    JiraTransition,
    SyncProperty,
)
from connectors.jira.settings import (
    BasicAuth,
    BearerAuth,
    JiraSettings,
    OwnerRoute,
    TransitionNames,
)
from connectors.jira.tickets import content_hash, draft_issue

__all__ = [
    "BasicAuth",
    "BearerAuth",
    "CreatedIssue",
    "IssueDraft",
    "JiraClient",
    "JiraIssue",
    "JiraSettings",
    "JiraTransition",
    "OwnerRoute",
    "SyncProperty",
    "TransitionNames",
    "WorkflowError",
    "content_hash",
    "draft_issue",
    "error_details",
]
