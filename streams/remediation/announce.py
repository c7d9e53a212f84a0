"""Asking people: the approval ticket set to Pending Approval and the chat message with the buttons.

:class:`RequestAnnouncer` is what the remediation-request stage calls for a request that waits for
approval. In Jira it raises the request's ticket — labelled :data:`~connectors.jira.approvals.APPROVAL_LABEL`
and a label of the request's own, with the request property the Jira approval channel reads — and moves
it to *Pending Approval* by the workflow's "Request Approval" transition. In chat it posts the Block
Kit message of :func:`connectors.slack.interactivity.build_approval_request_message`: what the fix does,
Approve and Reject buttons bound to the plan digest, and the console's signed one-click link (which
still requires a login). Both are idempotent per request id (a redelivered request finds its ticket).

:class:`TicketFollowUps` is the executor's side: after a run it resolves the request's ticket
("Remediated") or leaves it open with a comment carrying the output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from connectors.jira.adf.nodes import doc, paragraph
from connectors.jira.approvals import APPROVAL_LABEL, REQUEST_PROPERTY
from connectors.jira.client import JiraClient
from connectors.jira.models import IssueDraft
from connectors.slack.client import ChatWebhookClient
from connectors.slack.interactivity import build_approval_request_message
from processors.records import RemediationRequest
from processors.remediation.desk import PendingRequest
from processors.remediation.followup import TicketFollowUp
from streams.console.links import LinkSigner

__all__ = ["Announcement", "RequestAnnouncer", "TicketFollowUps", "desk_view", "request_label"]

log = logging.getLogger(__name__)

PENDING_TRANSITION = "Request Approval"
REMEDIATED_TRANSITIONS = ("Remediated", "Done", "Resolve Issue", "Close Issue", "Close", "Resolve")


def request_label(request_id: str) -> str:
    """The label that finds a request's ticket again (Jira labels take no spaces)."""
    return f"prismaflow-req-{request_id}"


def desk_view(request: RemediationRequest, status: str = "pending") -> PendingRequest:
    """A request as the approval channels show it."""
    plan = request.plan()
    if plan is None:
        raise ValueError(f"request {request.request_id} carries no plan")
    return PendingRequest(request_id=request.request_id, alert_id=request.alert_id, plan=plan,
                          plan_digest=request.plan_digest, required_approvals=request.required_approvals,
                          status=status, requested_at=request.requested_at, expires_at=request.expires_at,
                          terraform_diff="\n\n".join(a.terraform for a in plan.actions if a.terraform))


@dataclass(frozen=True)
class Announcement:
    """Where a request was announced: its ticket key (None without Jira) and whether chat got it."""

    ticket: str | None
    chat_posted: bool


class RequestAnnouncer:
    """Raises the approval ticket and posts the chat message for a request (module docstring)."""

    def __init__(self, *, jira: JiraClient | None, chat: ChatWebhookClient | None, links: LinkSigner,
                 console_base_url: str) -> None:
        self.jira, self.chat, self.links = jira, chat, links
        self.console_base_url = console_base_url.rstrip("/")

    async def find_ticket(self, request_id: str) -> str | None:
        if self.jira is None:
            return None
        keys = [issue.key async for issue in  # run to its end (limit 1): no generator left unfinished
                self.jira.search(f'labels = "{request_label(request_id)}" ORDER BY key ASC', limit=1)]
        return keys[0] if keys else None

    async def announce(self, request: RemediationRequest) -> Announcement:
        """Raise the ticket and post the message; a request whose ticket exists already (a redelivery,
        or the same fix proposed again when the alert recurs) is not posted to chat again."""
        view = desk_view(request)
        known = await self.find_ticket(request.request_id)
        ticket = await self._ticket(request, view, known)
        posted = False
        if self.chat is not None and known is None:
            url = self.console_base_url + self.links.path(request.request_id)
            await self.chat.post(build_approval_request_message(view, url))
            posted = True
        log.info("remediation request announced request_id=%s ticket=%s chat=%s", request.request_id, ticket, posted)
        return Announcement(ticket, posted)

    async def _ticket(self, request: RemediationRequest, view: PendingRequest, key: str | None) -> str | None:
        if self.jira is None:
            return None
        if key is None:
            actions = "; ".join(f"{a.service}.{a.operation} on {a.target_resource}" if a.service else
                                f"{a.kind.value} on {a.target_resource}" for a in view.plan.actions)
            draft = IssueDraft(
                project_key=self.jira.settings.project_key, issue_type=self.jira.settings.issue_type,
                summary=f"Approve fix for alert {request.alert_id}: {request.summary}"[:255],
                description=doc([paragraph(f"Remediation request {request.request_id} for Prisma Cloud alert "
                                           f"{request.alert_id} ({request.policy_family}, {request.environment.value})."),
                                 paragraph(f"Actions: {actions}"),
                                 paragraph(f"Approval path: {request.approval_path}. Plan digest: {request.plan_digest}."),
                                 paragraph("Approve by moving this ticket to Approved, with the chat buttons or in "
                                           "the console.")]),
                labels=(APPROVAL_LABEL, request_label(request.request_id)))
            key = (await self.jira.create_issue(draft)).key
            await self.jira.set_property(key, REQUEST_PROPERTY,
                                         {"request_id": request.request_id, "plan_digest": request.plan_digest})
        # Only "To Do" offers "Request Approval": a ticket already pending, approved or done is left as it is
        # (and a crash between creating and moving it is mended on the redelivery).
        await self.jira.transition(key, [PENDING_TRANSITION])
        return key


class TicketFollowUps:
    """The executor's ticket update: resolve the request's ticket, or comment and leave it open."""

    def __init__(self, announcer: RequestAnnouncer) -> None:
        self.announcer = announcer

    async def follow_up(self, request_id: str, follow_up: TicketFollowUp) -> str | None:
        """Apply ``follow_up`` to the request's ticket; returns its key (None without one)."""
        jira = self.announcer.jira
        key = await self.announcer.find_ticket(request_id)
        if jira is None or key is None:
            return None
        comment = doc([paragraph(line) for line in follow_up.comment.splitlines() if line.strip()])
        if follow_up.resolve:
            taken = await jira.transition(key, REMEDIATED_TRANSITIONS, categories=("done",), comment=comment)
            if taken is None:  # already done (e.g. "Approved" in Jira's own approval step): say so
                await jira.add_comment(key, comment)
        else:
            await jira.add_comment(key, comment)
        return key
