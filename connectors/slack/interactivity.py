"""Slack's interactive buttons: the approval request message and the clicks Slack sends back.

:func:`build_approval_request_message` is the Block Kit body of a remediation request: what the
fix does, on which resource, how many approvals it needs, an Approve and a Reject button and the
signed console link. The buttons carry ``<request id>|<plan digest>`` as their value, so a click
names the exact plan the person saw.

A click reaches the app's interactivity URL as a POST of ``payload=<JSON>``
(``application/x-www-form-urlencoded``, a ``block_actions`` payload). :func:`verify_signature`
checks Slack's signature before anything is read: ``X-Slack-Signature`` is ``v0=`` and the hex
HMAC-SHA256, under the app's signing secret, of ``v0:<X-Slack-Request-Timestamp>:<raw body>``;
requests whose timestamp is more than five minutes away from now are refused (replays).
:func:`parse_button_click` then reads who clicked which button. Pure functions, no I/O.

Errors: :class:`SlackRequestError` (its subclass :class:`SlackSignatureError` for a signature or
timestamp that does not verify).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from connectors.base import ConnectorError
from connectors.slack.blocks import escape_mrkdwn, heading_blocks, truncate_mrkdwn
from processors.remediation.desk import PendingRequest

__all__ = ["APPROVE_ACTION", "MAX_SKEW_S", "REJECT_ACTION", "ButtonClick", "SlackRequestError",
           "SlackSignatureError", "build_approval_request_message", "parse_button_click", "sign",
           "verify_signature"]

APPROVE_ACTION = "prismaflow_approve"
REJECT_ACTION = "prismaflow_reject"
#: Slack's advice: refuse requests whose timestamp is more than five minutes off (replay attacks).
MAX_SKEW_S = 300


class SlackRequestError(ConnectorError):
    """A request to the interactivity endpoint that is not a button click we can use."""


class SlackSignatureError(SlackRequestError):
    """The request's Slack signature or timestamp does not verify: it did not come from Slack now."""


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack sends for ``body`` at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def verify_signature(signing_secret: str, *, timestamp: str | None, signature: str | None, body: bytes,
                     now_s: float) -> None:
    """Return when the request came from Slack within :data:`MAX_SKEW_S`; raise
    :class:`SlackSignatureError` otherwise."""
    if not timestamp or not signature or not timestamp.isdigit():
        raise SlackSignatureError("missing Slack signature headers")
    if abs(now_s - int(timestamp)) > MAX_SKEW_S:
        raise SlackSignatureError("Slack request timestamp too old (replay?)")
    if not hmac.compare_digest(sign(signing_secret, timestamp, body), signature):
        raise SlackSignatureError("Slack signature does not match")


@dataclass(frozen=True)
class ButtonClick:
    """One click on an approval button: who (Slack user id), which vote, which request and plan."""

    user_id: str
    team_id: str
    approve: bool
    request_id: str
    plan_digest: str


def parse_button_click(body: bytes) -> ButtonClick:
    """The approval click in a ``block_actions`` payload; :class:`SlackRequestError` for anything else."""
    fields = parse_qs(body.decode("utf-8", errors="replace"))
    try:
        payload: Any = json.loads(fields["payload"][0])
    except (KeyError, IndexError, ValueError):
        raise SlackRequestError("no JSON payload field") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise SlackRequestError("not a block_actions payload")
    user: dict[str, Any] = payload["user"] if isinstance(payload.get("user"), dict) else {}
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    action_id, value = action.get("action_id"), action.get("value")
    if action_id not in (APPROVE_ACTION, REJECT_ACTION) or not isinstance(value, str) or "|" not in value:
        raise SlackRequestError("not an approval button")
    request_id, _, digest = value.partition("|")
    user_id = user.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise SlackRequestError("no user in the payload")
    team_field = payload.get("team")
    team = user.get("team_id") or (team_field.get("id") if isinstance(team_field, dict) else "") or ""
    return ButtonClick(user_id=user_id, team_id=str(team), approve=action_id == APPROVE_ACTION,
                       request_id=request_id, plan_digest=digest)


def build_approval_request_message(request: PendingRequest, console_url: str) -> dict[str, Any]:
    """The incoming-webhook body asking for a decision on ``request``; ``console_url`` is the signed
    one-click link (absolute). Plan text is escaped for mrkdwn (it may come from alert content)."""
    if not console_url.startswith(("https://", "http://")):
        raise ValueError("console_url must be an absolute http(s) URL")
    plan = request.plan
    actions = "\n".join(f"• `{a.service + '.' + a.operation if a.service else a.kind.value}` on {a.target_resource}"
                        for a in plan.actions[:10])  # escaped once, below
    value = f"{request.request_id}|{request.plan_digest}"
    title = f"Approval needed: {plan.policy_family} fix on {plan.environment.value}"
    return {
        "text": truncate_mrkdwn(f"Approval needed for {request.request_id}: {plan.summary}", 300),
        "blocks": [
            *heading_blocks(title, plan.summary),
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Resource*\n" + truncate_mrkdwn(plan.resource_id, 300)},
                {"type": "mrkdwn", "text": f"*Account*\n{escape_mrkdwn(plan.account_id or '-')}"},
                {"type": "mrkdwn", "text": f"*Change risk*\n{plan.change_risk.value}"},
                {"type": "mrkdwn", "text": f"*Approvals*\n{len(request.approvers)} of {request.required_approvals}"},
            ]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Actions*\n" + truncate_mrkdwn(actions, 1500)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate_mrkdwn(
                f"request {request.request_id} · alert {request.alert_id} · plan {request.plan_digest[:12]}", 300)}]},
            {"type": "actions", "block_id": "prismaflow_approval", "elements": [
                {"type": "button", "action_id": APPROVE_ACTION, "style": "primary", "value": value,
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": REJECT_ACTION, "style": "danger", "value": value,
                 "text": {"type": "plain_text", "text": "Reject"}},
                {"type": "button", "action_id": "prismaflow_open_console", "url": console_url,
                 "text": {"type": "plain_text", "text": "Open in console"}},
            ]},
        ],
    }
