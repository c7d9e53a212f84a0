"""Escalating an overdue remediation request to its chat channel: the approval service's ``on_escalation``.

The approval service's SLA tick escalates a still pending request once, at its ``escalate_at``
(:func:`processors.remediation.approval.tick`): it writes the ``remediation_escalated`` audit record
and a log line, then calls :class:`ChatEscalation` with the request's state and the tick's time. That
posts :func:`connectors.slack.escalation.build_escalation_message` — request and alert ids, resource,
risk, approvals so far of those needed, time left before expiry, the console link — to the request's
``escalation_channel`` through the configured chat webhook (``PRISMAFLOW_CHAT_*``).

Failure: the webhook client retries by its own policy (transport errors, 429, 5xx; four tries, full-jitter
backoff);
if it still fails, :meth:`ChatEscalation.__call__` raises, the service logs it, keeps the request
marked escalated-but-not-announced and tries again on the next SLA tick until the post succeeds or
the request is no longer pending. The audit record is written before the first try, so a failed post
never loses the escalation from the ledger.
"""

from __future__ import annotations

import logging
from datetime import datetime

from connectors.slack.client import ChatWebhookClient
from connectors.slack.escalation import build_escalation_message
from processors.remediation.approval import PendingRequest
from streams.console.links import LinkSigner
from streams.remediation.announce import desk_view

__all__ = ["ChatEscalation"]

log = logging.getLogger(__name__)


class ChatEscalation:
    """Posts an overdue request to its escalation channel (module docstring); raises when the post fails."""

    def __init__(self, chat: ChatWebhookClient, *, console_base_url: str, links: LinkSigner | None = None) -> None:
        self.chat, self.links = chat, links
        self.console_base_url = console_base_url.rstrip("/")

    def console_url(self, request_id: str) -> str:
        """The signed one-click link when a link key is configured, else the request's page (login either way)."""
        path = self.links.path(request_id) if self.links is not None else f"/requests/{request_id}"
        return self.console_base_url + path

    async def __call__(self, state: PendingRequest, now: datetime) -> None:
        request = state.request
        view = desk_view(request, status=state.status.value).model_copy(update={
            "approvers": tuple(vote.approver or "" for vote in state.approvals), "required_approvals": state.needed})
        body = build_escalation_message(self.chat.settings.kind, view, channel=request.escalation_channel,
                                        console_url=self.console_url(request.request_id), now=now)
        await self.chat.post(body)
        log.info("remediation escalation posted request_id=%s channel=%s", request.request_id,
                 request.escalation_channel)
