"""The Slack approval channel: posts a request with its buttons, and turns a verified click into a vote.

:class:`SlackApprovalChannel` serves ``POST /slack/interactions`` (mounted in the console app): the
signature is checked first (:func:`connectors.slack.interactivity.verify_signature`, the signing
secret from the secrets folder), then the Slack user is mapped to an approver identity through the
configured mapping — an unknown user is refused — and only then does the desk hear of it, with
``channel="slack"``. :func:`announce_request` posts the request message through the chat webhook
client. Slack shows nothing of the answer's body for a button click; the status codes are for logs
and tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.slack.client import ChatWebhookClient
from connectors.slack.interactivity import (SlackRequestError, SlackSignatureError, build_approval_request_message,
                                            parse_button_click, verify_signature)
from processors.remediation.desk import ApprovalDesk, PendingRequest, Vote
from streams.console.links import LinkSigner

__all__ = ["SlackApprovalChannel", "announce_request"]

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024


class SlackApprovalChannel:
    """Button clicks from Slack, verified and mapped, as votes on the desk."""

    def __init__(self, desk: ApprovalDesk, *, signing_secret: str, approvers: Mapping[str, str],
                 clock: Callable[[], float] = time.time) -> None:
        self.desk = desk
        self._secret = signing_secret
        # Settings keys arrive in lower case (PRISMAFLOW_CONSOLE_SLACK_APPROVERS__<ID>); Slack ids are upper case.
        self._approvers = {user.lower(): identity for user, identity in approvers.items()}
        self._clock = clock

    def routes(self) -> list[Route]:
        return [Route("/slack/interactions", self.interaction, methods=["POST"])]

    async def interaction(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > _MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        try:
            verify_signature(self._secret, timestamp=request.headers.get("x-slack-request-timestamp"),
                             signature=request.headers.get("x-slack-signature"), body=body, now_s=self._clock())
            click = parse_button_click(body)
        except SlackSignatureError as exc:
            log.warning("slack interaction refused reason=%s", exc)
            return JSONResponse({"error": "signature"}, status_code=401)
        except SlackRequestError as exc:
            log.info("slack interaction ignored reason=%s", exc)
            return JSONResponse({"error": "not an approval click"}, status_code=400)
        approver = self._approvers.get(click.user_id.lower())
        if approver is None:
            log.warning("slack interaction refused reason=unknown-user request=%s", click.request_id)
            return JSONResponse({"error": "unknown Slack user"}, status_code=403)
        vote = Vote.APPROVE if click.approve else Vote.REJECT
        outcome = self.desk.decide(click.request_id, approver=approver, vote=vote, plan_digest=click.plan_digest,
                                   reason=f"{'approved' if click.approve else 'rejected'} with the Slack button",
                                   channel="slack")
        log.info("slack vote request=%s approver=%s vote=%s verdict=%s", click.request_id, approver, vote.value,
                 outcome.verdict.value)
        return JSONResponse({"verdict": outcome.verdict.value, "reason": outcome.reason})


async def announce_request(client: ChatWebhookClient, request: PendingRequest, *, links: LinkSigner,
                           console_base_url: str) -> None:
    """Post ``request`` with its Approve/Reject buttons and its signed console link."""
    url = console_base_url.rstrip("/") + links.path(request.request_id)
    await client.post(build_approval_request_message(request, url))
