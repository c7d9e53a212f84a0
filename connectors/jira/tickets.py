"""What a Prismaflow ticket says: summary, description, priority, labels and routing of a finding.

Pure functions from a :class:`ScoredAlert` (and its :class:`Analysis`) plus :class:`JiraSettings`
to an :class:`IssueDraft`; the Jira sink calls :func:`draft_issue` before creating and
:func:`content_hash` to decide whether an existing issue needs an update.
"""

from __future__ import annotations

import hashlib
import json
import re

from connectors.jira.adf.documents import ticket_description
from connectors.jira.adf.nodes import clean_text
from connectors.jira.models import IssueDraft
from connectors.jira.settings import JiraSettings, OwnerRoute
from connectors.jira.wiki import to_wiki
from processors.models import ScoredAlert
from processors.records import Analysis
from processors.redaction import redact_model

__all__ = ["content_hash", "draft_issue", "route_for", "summary_for"]

SUMMARY_CHARS = 255
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


def summary_for(scored: ScoredAlert) -> str:
    """One line, at most 255 characters: ``[CRITICAL 87] <policy> on <resource>``."""
    alert = scored.alert
    resource = alert.resource.name or alert.resource.resource_id
    text = f"[{scored.tier.value.upper()} {scored.score}] {alert.policy_name} on {resource}"
    return clean_text(" ".join(text.split()), SUMMARY_CHARS, keep_newlines=False) or alert.alert_id


def route_for(scored: ScoredAlert, settings: JiraSettings) -> OwnerRoute:
    """The owner routing of the finding's team (``enrichment.team``), or an empty route."""
    return settings.owners.get(scored.alert.enrichment.team, OwnerRoute())


def draft_issue(
    scored: ScoredAlert,
    analysis: Analysis | None,
    settings: JiraSettings,
    *,
    fingerprint: str | None = None,
) -> IssueDraft:
    """The issue to create for a finding, in the settings' flavour (ADF or wiki markup).

    Secrets in the alert or the analysis are redacted (:mod:`processors.redaction`) first.
    Labels: the configured ones, the team route's, ``tier-<tier>`` and ``module-<module>``; the
    fingerprint label is added by :meth:`JiraClient.create_issue` together with the sync property.
    """
    # The one place an issue's text is composed from alert and analysis: no secret gets past it.
    scored = redact_model(scored)
    analysis = redact_model(analysis) if analysis is not None else None
    route = route_for(scored, settings)
    # Data Center: build without the JSON-size cut, the wiki renderer cuts the markup it makes.
    limit = settings.description_limit if settings.uses_adf else 10 * settings.description_limit
    document = ticket_description(
        scored, analysis, console_url=settings.prisma_console_url, fingerprint=fingerprint,
        limit=limit,
    )
    description: dict[str, object] | str = (
        document if settings.uses_adf else to_wiki(document, settings.description_limit)
    )
    extra = (f"tier-{scored.tier.value}", f"module-{scored.alert.module.value.lower()}")
    labels = [_LABEL_UNSAFE.sub("_", x)[:255] for x in (*settings.labels, *route.labels, *extra)]
    return IssueDraft(
        project_key=route.project_key or settings.project_key,
        issue_type=settings.issue_type,
        summary=summary_for(scored),
        description=description,
        priority=settings.priority_name(scored.tier, analysis.priority if analysis else None),
        labels=tuple(dict.fromkeys(labels)),
        components=tuple(dict.fromkeys((*settings.components, *route.components))),
        assignee=route.assignee,
    )


def content_hash(draft: IssueDraft) -> str:
    """SHA-256 of what Prismaflow writes to an issue; equal hashes mean nothing to update."""
    payload = draft.model_dump(mode="json", exclude={"assignee"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
