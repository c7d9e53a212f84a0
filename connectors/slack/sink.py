"""A Slack or Teams incoming webhook as a :class:`~connectors.ports.Notifier` for the chat sink.

The stream side (:class:`streams.chat.ChatSink`) decides what to notify, once per fingerprint,
and which ticket and approval page to link; this adapter builds the body (Slack Block Kit,
:func:`~connectors.slack.blocks.build_slack_message`, or a Teams Adaptive Card,
:func:`~connectors.slack.teams.build_teams_payload`) and posts it with
:class:`~connectors.slack.client.ChatWebhookClient`.

Errors become the ports' signals here: 429/5xx beyond the client's retries are back-pressure
(:class:`~connectors.ports.TargetUnavailableError`); a webhook that is gone or revoked
(401/403/404/410 and other unexpected statuses) is :class:`~connectors.ports.TargetUnusableError`,
since every further message would fail too; a body the webhook refuses (400) or that cannot be
built is a :class:`~connectors.ports.RecordRejectedError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from connectors.base import (
    AuthenticationError,
    ConnectorError,
    NotFoundError,
    UnexpectedStatusError,
)
from connectors.ports import Notification
from connectors.sink_signals import sink_signals
from connectors.slack.blocks import build_slack_message
from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.teams import build_teams_payload

__all__ = ["ChatPoster", "ChatWebhookNotifier"]


class ChatPoster(Protocol):
    """What the adapter needs from :class:`~connectors.slack.client.ChatWebhookClient`."""

    async def post(self, payload: Mapping[str, Any]) -> None: ...
    async def aclose(self) -> None: ...


class ChatWebhookNotifier:
    """Posts one notification per call to a Slack or Teams webhook."""

    def __init__(self, settings: ChatWebhookSettings, *, client: ChatPoster | None = None) -> None:
        self.settings = settings
        self.kind = settings.kind.value
        self.client: ChatPoster = client or ChatWebhookClient(settings)

    def payload(self, notification: Notification) -> dict[str, Any]:
        """The webhook body: Block Kit for Slack, an Adaptive Card for Teams."""
        build = build_slack_message if self.settings.kind is ChatKind.SLACK else build_teams_payload
        return build(notification.scored, ticket_url=notification.ticket_url, ticket_key=notification.ticket_key,
                     approval_url=notification.approval_url)

    async def notify(self, notification: Notification) -> None:
        with sink_signals(unusable=(AuthenticationError, NotFoundError, UnexpectedStatusError),
                          rejected=(ConnectorError, ValueError)):
            await self.client.post(self.payload(notification))

    async def aclose(self) -> None:
        await self.client.aclose()
