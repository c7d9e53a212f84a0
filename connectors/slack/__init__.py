"""Chat connector: Slack Block Kit and Teams Adaptive Card notifications, webhook client, simulator.

:func:`build_slack_message` and :func:`build_teams_payload` turn a top-tier
:class:`~processors.models.ScoredAlert` (with its analysis, ticket and approval page) into a
webhook body; :class:`ChatWebhookClient` posts it; :mod:`.simulator` stands in for both services.
"""

from __future__ import annotations

from connectors.slack.blocks import build_slack_message, escape_mrkdwn
from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.teams import build_teams_payload

__all__ = [
    "ChatKind",
    "ChatWebhookClient",
    "ChatWebhookSettings",
    "build_slack_message",
    "build_teams_payload",
    "escape_mrkdwn",
]
