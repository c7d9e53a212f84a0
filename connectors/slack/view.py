"""What a chat notification says about a scored alert, independent of Slack or Teams markup.

:func:`alert_view` picks the title, summary, facts, recommended actions and links once; the Slack
builder (:mod:`connectors.slack.blocks`) and the Teams builder (:mod:`connectors.slack.teams`)
only render it. Text taken from alerts and analyses is untrusted (a policy name, a resource tag or
an LLM summary can carry markup or mentions): the renderers escape it, this module does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict, Unpack

from processors.analysis_text import display_summary
from processors.models import ScoredAlert
from processors.records import Analyser, Analysis
from processors.redaction import redact_model

__all__ = ["AlertView", "Link", "ViewOptions", "alert_view", "check_url"]

#: Slack's limit for a button URL; Teams has none documented, so the same cap is used.
MAX_URL_CHARS = 3000
#: How many recommended actions a notification lists (the ticket has them all).
MAX_ACTIONS_LISTED = 5


@dataclass(frozen=True)
class Link:
    """A button: its label, where it goes, and a stable id for it."""

    title: str
    url: str
    action_id: str
    primary: bool = False


@dataclass(frozen=True)
class AlertView:
    """The renderer-neutral content of one notification (all text still unescaped)."""

    title: str
    summary: str
    facts: list[tuple[str, str]]
    recommended_actions: list[str]
    context: list[str]
    links: list[Link] = field(default_factory=list)
    fallback: str = ""


class ViewOptions(TypedDict, total=False):
    """What a notification may carry beside the scored alert; every builder takes these keywords."""

    analysis: Analysis | None
    ticket_url: str | None
    ticket_key: str | None
    approval_url: str | None
    console_url: str | None


def check_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL within the length cap, else ``ValueError``.

    Links are built by Prismaflow (ticket, approval page, console), never taken from alert data;
    the check keeps a ``javascript:`` or relative link from ever reaching a button.
    """
    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise ValueError("link URLs must be absolute http(s) URLs without spaces")
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"link URL longer than {MAX_URL_CHARS} characters")
    return url


def _analyser_label(analysis: Analysis) -> str:
    if analysis.analyser is Analyser.OFFLINE:
        return "Analysis: offline playbook analyser (no LLM)"
    model = analysis.model or "LLM"
    prompt = "@".join(p for p in (analysis.prompt_id, analysis.prompt_version) if p)
    version = f", prompt {prompt}" if prompt else ""
    return f"Analysis: {model}{version}, confidence {analysis.confidence:.0%}"


def alert_view(scored: ScoredAlert, **options: Unpack[ViewOptions]) -> AlertView:
    """The content of a notification for ``scored``; raises ``ValueError`` for a bad link URL.

    The one place a notification's text is composed: alert and analysis are redacted
    (:mod:`processors.redaction`) first, so no secret reaches Slack or Teams.
    """
    scored = redact_model(scored)
    analysis = options.get("analysis")
    analysis = redact_model(analysis) if analysis is not None else None
    ticket_url, ticket_key = options.get("ticket_url"), options.get("ticket_key")
    approval_url, console_url = options.get("approval_url"), options.get("console_url")
    alert = scored.alert
    resource = alert.resource
    title = f"{scored.tier.value.upper()} {scored.score}: {alert.policy_name}"
    summary = (display_summary(analysis) if analysis else "") or alert.description or alert.policy_name
    account = resource.account_name or resource.account_id
    if resource.account_name and resource.account_id:
        account = f"{resource.account_name} ({resource.account_id})"
    where = " / ".join(p for p in (resource.cloud.value, resource.region) if p)
    facts: list[tuple[str, str]] = [
        ("Risk", f"{scored.score}/100 ({scored.tier.value})"),
        ("Severity", alert.severity.value),
        ("Asset", resource.name or resource.resource_id),
        ("Account", f"{account} · {where}" if account and where else account or where or "-"),
        ("Module", f"{alert.module.value} {alert.policy_type}".strip()),
        ("Environment", alert.enrichment.environment.value),
    ]
    owner = alert.enrichment.owner or alert.enrichment.team
    if owner:
        facts.append(("Owner", owner))
    if analysis is not None:
        facts.append(("Priority", analysis.priority.value))
    if scored.incident_id:
        facts.append(("Incident", f"{scored.incident_id} ({len(scored.incident_members)} findings)"))
    if ticket_key:
        facts.append(("Ticket", ticket_key))
    context = [f"Alert {alert.alert_id}", f"scored {scored.scored_at:%Y-%m-%d %H:%M:%S} UTC"]
    if analysis is not None:
        context.append(_analyser_label(analysis))
    links: list[Link] = []
    if ticket_url:
        links.append(Link(f"Open ticket {ticket_key or ''}".strip(), check_url(ticket_url), "open_ticket"))
    if approval_url:
        links.append(Link("Review fix", check_url(approval_url), "review_fix", primary=True))
    if console_url:
        links.append(Link("Open in Prisma Cloud", check_url(console_url), "open_console"))
    actions = list(analysis.recommended_actions[:MAX_ACTIONS_LISTED]) if analysis else []
    fallback = f"[{scored.tier.value.upper()} {scored.score}] {alert.policy_name} on {facts[2][1]}"
    return AlertView(title, summary, facts, actions, context, links, fallback)
