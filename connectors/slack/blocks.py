"""Slack Block Kit message for a top-tier scored alert: a pure builder, no I/O.

The chat sink calls :func:`build_slack_message` for alerts at the notification tier and posts the
result with :class:`connectors.slack.client.ChatWebhookClient`. Layout: a ``header`` (tier, score,
policy), a ``section`` with the summary, a ``section`` of fields (risk, severity, asset, account,
module, ...), the recommended actions, a ``context`` line (alert id, time, which analyser wrote the
analysis), and an ``actions`` block of URL buttons (ticket, approval page, console). URL buttons
only: interactive buttons would need a Slack app with a request URL, which webhooks do not have.

Untrusted text (alert and analysis fields) is escaped for mrkdwn (``&``, ``<``, ``>``), which also
stops it from forming links or ``<!channel>`` mentions. ``plain_text`` objects are not parsed by
Slack, so they are not escaped. Every text is capped to the Block Kit limits below (cut with
``…``, never inside an ``&amp;`` entity); the field caps are kept well below Slack's so the whole
message stays under the undocumented ~13k-character ``msg_blocks_too_long`` limit.
"""

from __future__ import annotations

from typing import Any, Unpack

from connectors.slack.view import AlertView, ViewOptions, alert_view
from processors.models import ScoredAlert

__all__ = [
    "LIMITS",
    "build_slack_message",
    "escape_mrkdwn",
    "heading_blocks",
    "plain_text",
    "render_slack",
    "truncate_mrkdwn",
]

#: Block Kit limits (api.slack.com/reference/block-kit/blocks); the simulator enforces the same.
LIMITS: dict[str, int] = {
    "blocks": 50,
    "section_text": 3000,
    "section_fields": 10,
    "field_text": 2000,
    "header_text": 150,
    "block_id": 255,
    "actions_elements": 25,
    "context_elements": 10,
    "button_text": 75,
    "button_url": 3000,
    "button_value": 2000,
    "action_id": 255,
    "message_text": 40_000,
}

# Our own, tighter caps: a notification points at the ticket, it does not replace it.
_SUMMARY_CHARS = 2000
_FIELD_CHARS = 300
_ACTIONS_CHARS = 1500
_CONTEXT_CHARS = 300
_FALLBACK_CHARS = 300


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's three control characters: ``&`` → ``&amp;``, ``<`` → ``&lt;``, ``>`` → ``&gt;``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate_mrkdwn(text: str, limit: int) -> str:
    """Escape ``text`` and cap it at ``limit`` characters, ending with ``…`` when cut."""
    return _cap_escaped(escape_mrkdwn(text), limit)


def _cap_escaped(escaped: str, limit: int) -> str:
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # do not leave half an entity
    return cut + "…"


def plain_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (plain_text objects need no escaping)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def heading_blocks(title: str, summary: str) -> list[dict[str, Any]]:
    """A header block with ``title`` and a section with ``summary`` (escaped: it may come from alert
    content), the top of every remediation message."""
    return [
        {"type": "header", "text": {"type": "plain_text", "text": plain_text(title, LIMITS["header_text"])}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate_mrkdwn(summary or "(no summary)", 2000)}},
    ]


def render_slack(view: AlertView) -> dict[str, Any]:
    """The webhook body for ``view``: ``text`` (notification fallback) and ``blocks``."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": plain_text(view.title, LIMITS["header_text"]), "emoji": False},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate_mrkdwn(view.summary, _SUMMARY_CHARS)}},
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*{label}*\n" + truncate_mrkdwn(value, _FIELD_CHARS),
                }
                for label, value in view.facts[: LIMITS["section_fields"]]
            ],
        },
    ]
    if view.recommended_actions:
        lines = "\n".join(f"• {escape_mrkdwn(action)}" for action in view.recommended_actions)
        text = _cap_escaped("*Recommended actions*\n" + lines, _ACTIONS_CHARS)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": truncate_mrkdwn(item, _CONTEXT_CHARS)}
                for item in view.context[: LIMITS["context_elements"]]
            ],
        }
    )
    if view.links:
        buttons: list[dict[str, Any]] = []
        for link in view.links[: LIMITS["actions_elements"]]:
            button: dict[str, Any] = {
                "type": "button",
                "text": {"type": "plain_text", "text": plain_text(link.title, LIMITS["button_text"])},
                "url": link.url,
                "action_id": link.action_id,
            }
            if link.primary:
                button["style"] = "primary"
            buttons.append(button)
        blocks.append({"type": "actions", "block_id": "prismaflow_links", "elements": buttons})
    return {"text": truncate_mrkdwn(view.fallback, _FALLBACK_CHARS), "blocks": blocks}


def build_slack_message(scored: ScoredAlert, **options: Unpack[ViewOptions]) -> dict[str, Any]:
    """The Slack incoming-webhook body for ``scored`` (and its analysis, ticket and approval page).

    Pure. Raises ``ValueError`` when a link is not an absolute http(s) URL.
    """
    return render_slack(alert_view(scored, **options))
