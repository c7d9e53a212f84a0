"""The chat message that escalates an overdue remediation request: pure builders, no I/O.

The approval service calls these (through :class:`streams.remediation.escalation.ChatEscalation`)
once a pending request passes its escalation time, to tell the escalation channel what is waiting:
the request and alert ids, the resource, the risk (change risk, IAM, environment), approvals so far
of those needed, the time left before the request expires (and then never runs) and the console
link. No buttons: the people on the escalation rota decide in the console or on the original message.

Slack: a Block Kit body with ``channel`` set to the request's escalation channel (the incoming-webhook
field that names the channel; a webhook bound to one channel by a Slack app posts there whatever the
field says, so point ``PRISMAFLOW_CHAT_WEBHOOK_URL`` at a webhook allowed to post to the escalation
channel). Untrusted text (summary, resource, ids: alert content can reach them) is escaped as
:mod:`connectors.slack.blocks` escapes it, which also stops ``<!channel>`` mentions and links.
Teams: an Adaptive Card naming the channel (a Workflows webhook posts where its flow says), with
markdown links neutralised as :mod:`connectors.slack.teams` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connectors.slack.blocks import escape_mrkdwn, heading_blocks, plain_text, truncate_mrkdwn
from connectors.slack.client import ChatKind
from connectors.slack.teams import (ADAPTIVE_CARD_CONTENT_TYPE, ADAPTIVE_CARD_SCHEMA, ADAPTIVE_CARD_VERSION,
                                    neutralise_markdown)
from processors.remediation.desk import PendingRequest

__all__ = ["build_escalation_message", "build_slack_escalation", "build_teams_escalation", "time_left"]


def time_left(expires_at: datetime | None, now: datetime) -> str:
    """How long until ``expires_at``, for people: ``5h 12m``, ``under a minute``, ``expired``, ``no deadline``."""
    if expires_at is None:
        return "no deadline"
    left = expires_at - now
    if left <= timedelta(0):
        return "expired"
    minutes = int(left.total_seconds() // 60)
    if minutes == 0:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def _risk(request: PendingRequest) -> str:
    plan = request.plan
    parts = [f"change risk {plan.change_risk.value}", f"environment {plan.environment.value}"]
    if plan.touches_iam:
        parts.append("IAM change")
    return ", ".join(parts)


def build_slack_escalation(request: PendingRequest, *, channel: str, console_url: str,
                           now: datetime) -> dict[str, Any]:
    """The Slack incoming-webhook body escalating ``request`` to ``channel`` at ``now``."""
    if not console_url.startswith(("https://", "http://")):
        raise ValueError("console_url must be an absolute http(s) URL")
    plan = request.plan
    left = time_left(request.expires_at, now)
    approvals = f"{len(request.approvers)} of {request.required_approvals}"
    title = f"Overdue approval: {plan.policy_family} fix on {plan.environment.value}"
    return {
        **({"channel": channel} if channel else {}),  # none named: the webhook's own channel
        "text": truncate_mrkdwn(f"Overdue approval for {request.request_id} (alert {request.alert_id}): "
                                f"{approvals} approvals, expires in {left}", 300),
        "blocks": [
            *heading_blocks(title, plan.summary),
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Resource*\n" + truncate_mrkdwn(plan.resource_id, 300)},
                {"type": "mrkdwn", "text": "*Risk*\n" + escape_mrkdwn(_risk(request))},
                {"type": "mrkdwn", "text": f"*Approvals*\n{approvals}"},
                {"type": "mrkdwn", "text": f"*Expires in*\n{left}"},
                {"type": "mrkdwn", "text": "*Request*\n" + truncate_mrkdwn(request.request_id, 300)},
                {"type": "mrkdwn", "text": "*Alert*\n" + truncate_mrkdwn(request.alert_id, 300)},
            ]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate_mrkdwn(
                "Not decided within its escalation time; unanswered, it expires and never runs.", 300)}]},
            {"type": "actions", "block_id": "prismaflow_escalation", "elements": [
                {"type": "button", "action_id": "prismaflow_open_console", "url": console_url,
                 "text": {"type": "plain_text", "text": "Open in console"}},
            ]},
        ],
    }


def build_teams_escalation(request: PendingRequest, *, channel: str, console_url: str,
                           now: datetime) -> dict[str, Any]:
    """The Teams Workflows body (envelope and Adaptive Card) escalating ``request`` at ``now``."""
    if not console_url.startswith(("https://", "http://")):
        raise ValueError("console_url must be an absolute http(s) URL")
    plan = request.plan

    def fact(title: str, value: str) -> dict[str, str]:
        return {"title": title, "value": plain_text(neutralise_markdown(value), 300)}

    card = {
        "type": "AdaptiveCard", "$schema": ADAPTIVE_CARD_SCHEMA, "version": ADAPTIVE_CARD_VERSION,
        "body": [
            {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True, "color": "Attention",
             "text": plain_text(neutralise_markdown(f"Overdue approval: {plan.policy_family} fix on "
                                                f"{plan.environment.value}"), 200)},
            {"type": "TextBlock", "wrap": True, "text": plain_text(neutralise_markdown(plan.summary or "(no summary)"), 2000)},
            {"type": "FactSet", "facts": [
                fact("Escalated to", channel or "(this channel)"), fact("Resource", plan.resource_id), fact("Risk", _risk(request)),
                fact("Approvals", f"{len(request.approvers)} of {request.required_approvals}"),
                fact("Expires in", time_left(request.expires_at, now)), fact("Request", request.request_id),
                fact("Alert", request.alert_id)]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in console", "url": console_url}],
    }
    return {"type": "message",
            "attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def build_escalation_message(kind: ChatKind, request: PendingRequest, *, channel: str, console_url: str,
                             now: datetime) -> dict[str, Any]:
    """The escalation body for the chat system ``kind``."""
    build = build_slack_escalation if kind is ChatKind.SLACK else build_teams_escalation
    return build(request, channel=channel, console_url=console_url, now=now)
