"""What the simulated Slack and Teams endpoints check in a message body.

Slack: the Block Kit limits Slack documents (``invalid_blocks``); Teams: the Workflows message
envelope around an Adaptive Card and what makes a card fail to render.
"""

from __future__ import annotations

from typing import Any

from connectors.slack.blocks import LIMITS
from connectors.slack.teams import ADAPTIVE_CARD_CONTENT_TYPE

__all__ = ["teams_envelope_error", "validate_blocks"]


def _text_len(obj: Any) -> int:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return len(obj["text"])
    return 0


def validate_blocks(blocks: Any) -> str | None:
    """The first Block Kit limit ``blocks`` breaks, or None (checks what Slack documents)."""
    if not isinstance(blocks, list):
        return "blocks must be an array"
    if len(blocks) > LIMITS["blocks"]:
        return f"more than {LIMITS['blocks']} blocks"
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"block {index} has no type"
        kind = block["type"]
        if len(str(block.get("block_id", ""))) > LIMITS["block_id"]:
            return f"block {index}: block_id too long"
        if kind == "header":
            text = block.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                return f"block {index}: header needs plain_text"
            if not 1 <= _text_len(text) <= LIMITS["header_text"]:
                return f"block {index}: header text length"
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                return f"block {index}: section needs text or fields"
            if "text" in block and not 1 <= _text_len(block["text"]) <= LIMITS["section_text"]:
                return f"block {index}: section text length"
            fields_ = block.get("fields", [])
            if not isinstance(fields_, list) or len(fields_) > LIMITS["section_fields"]:
                return f"block {index}: too many fields"
            if any(not 1 <= _text_len(f) <= LIMITS["field_text"] for f in fields_):
                return f"block {index}: field text length"
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= LIMITS["context_elements"]:
                return f"block {index}: context elements"
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= LIMITS["actions_elements"]:
                return f"block {index}: actions elements"
            for element in elements:
                if not isinstance(element, dict):
                    return f"block {index}: bad element"
                if element.get("type") == "button":
                    if not 1 <= _text_len(element.get("text")) <= LIMITS["button_text"]:
                        return f"block {index}: button text length"
                    if len(str(element.get("url", ""))) > LIMITS["button_url"]:
                        return f"block {index}: button url length"
                    if len(str(element.get("value", ""))) > LIMITS["button_value"]:
                        return f"block {index}: button value length"
                    if len(str(element.get("action_id", ""))) > LIMITS["action_id"]:
                        return f"block {index}: action_id length"
        elif kind not in {"divider", "image", "rich_text", "input", "file", "video"}:
            return f"block {index}: unknown type {kind!r}"
    return None


def teams_envelope_error(body: Any) -> str | None:
    """Why ``body`` is not a Workflows message carrying an Adaptive Card the flow can post, or None."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return 'type must be "message"'
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "attachments must be a non-empty array"
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("contentType") != ADAPTIVE_CARD_CONTENT_TYPE:
            return "contentType must be the Adaptive Card type"
        content = attachment.get("content")
        if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return 'content.type must be "AdaptiveCard"'
        if not content.get("version") or not isinstance(content.get("body"), list):
            return "card needs version and body"
        for action in content.get("actions", []):
            if isinstance(action, dict) and action.get("type") == "Action.Submit":
                return "Action.Submit is not supported via webhooks"
    return None
