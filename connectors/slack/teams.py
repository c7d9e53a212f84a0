"""Microsoft Teams Adaptive Card for a top-tier scored alert, in the Workflows webhook envelope.

Office 365 connectors (the old "Incoming Webhook") are retired; Teams now takes webhooks through the
Workflows app ("When a Teams webhook request is received"), which accepts::

    {"type": "message",
     "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                      "contentUrl": null,
                      "content": {<AdaptiveCard>}}]}

The card is version **1.4**, as in the reference payload; it uses nothing from 1.5, so older
Teams clients (mobile lags behind) render it too. Actions are ``Action.OpenUrl`` only (webhooks cannot take
``Action.Submit``). Teams rejects a message over 28 KB (28672 bytes) *after* answering 202, so
the builder caps its texts and shrinks them further until the encoded message fits.

Untrusted text is rendered in ``TextBlock``/``FactSet``, which interpret a markdown subset. The
builder breaks the link syntax ``[text](url)`` (a zero-width space after ``]``) so alert text
cannot make a clickable link; emphasis characters are left as they are (harmless).
"""

from __future__ import annotations

import json
from typing import Any, Unpack

from connectors.slack.view import AlertView, ViewOptions, alert_view
from processors.models import ScoredAlert

__all__ = [
    "ADAPTIVE_CARD_CONTENT_TYPE",
    "ADAPTIVE_CARD_VERSION",
    "MAX_MESSAGE_BYTES",
    "build_teams_payload",
    "neutralise_markdown",
    "render_teams",
]

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
#: Teams' message size limit ("max allowed size is 28672 bytes").
MAX_MESSAGE_BYTES = 28_672

_TITLE_CHARS = 200
_SUMMARY_CHARS = 3000
_FACT_CHARS = 300
_ACTIONS_CHARS = 1500
_CONTEXT_CHARS = 300


def neutralise_markdown(text: str) -> str:
    """Stop untrusted text from forming a markdown link (``](`` → ``]\\u200b(``)."""
    return text.replace("](", "]\u200b(")


def _cap(text: str, limit: int) -> str:
    text = neutralise_markdown(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_teams(view: AlertView, *, critical: bool = True) -> dict[str, Any]:
    """The Workflows webhook body (envelope + Adaptive Card) for ``view``, at most 28 KB.

    Texts are capped; if the encoded message is still too big (long non-ASCII text, long URLs)
    the caps are halved until it fits.
    """
    for scale in (1.0, 0.5, 0.25, 0.1):
        payload = _render(view, critical, scale)
        size = len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        if size <= MAX_MESSAGE_BYTES:
            return payload
    raise ValueError(f"Teams message is {size} bytes, over {MAX_MESSAGE_BYTES}")


def _render(view: AlertView, critical: bool, scale: float) -> dict[str, Any]:
    def cap(text: str, limit: int) -> str:
        return _cap(text, max(20, int(limit * scale)))

    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": cap(view.title, _TITLE_CHARS),
            "weight": "Bolder",
            "size": "Medium",
            "color": "Attention" if critical else "Warning",
            "wrap": True,
        },
        {"type": "TextBlock", "text": cap(view.summary, _SUMMARY_CHARS), "wrap": True},
        {
            "type": "FactSet",
            "facts": [{"title": label, "value": cap(value, _FACT_CHARS)} for label, value in view.facts],
        },
    ]
    if view.recommended_actions:
        lines = "\n".join(f"- {action}" for action in view.recommended_actions)
        body.append({"type": "TextBlock", "text": "**Recommended actions**", "wrap": True})
        body.append({"type": "TextBlock", "text": cap(lines, _ACTIONS_CHARS), "wrap": True})
    body.append(
        {
            "type": "TextBlock",
            "text": cap(" · ".join(view.context), _CONTEXT_CHARS),
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if view.links:
        card["actions"] = [
            {
                "type": "Action.OpenUrl",
                "title": link.title,
                "url": link.url,
                **({"style": "positive"} if link.primary else {}),
            }
            for link in view.links
        ]
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


def build_teams_payload(scored: ScoredAlert, **options: Unpack[ViewOptions]) -> dict[str, Any]:
    """The Teams Workflows webhook body for ``scored``. Pure; ``ValueError`` for a bad link URL."""
    return render_teams(alert_view(scored, **options), critical=scored.tier.value == "critical")
