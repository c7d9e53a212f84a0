"""The chat webhook simulator's ASGI app: Slack hooks, the Teams workflow trigger, ``/_sim``.

Faults name a ``target`` (``slack`` or ``teams``) and the plain answer to give instead
(``status``, ``body``, optional ``Retry-After``) for the next ``count`` messages.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors.simkit import Fault, FaultRules, Simulator, TokenBucket, retry_after_header
from connectors.slack.simulator.validation import teams_envelope_error, validate_blocks
from connectors.slack.teams import MAX_MESSAGE_BYTES

__all__ = ["ChatWebhookSimulator"]

logger = logging.getLogger(__name__)


def _known_target(fault: Fault) -> str | None:
    return None if fault.route in ("slack", "teams") else "target must be slack or teams"


FAULT_RULES = FaultRules(
    kinds=None,
    fields=("target", "status", "body", "retry_after_s", "count"),
    renames={"target": "route"},
    defaults={"kind": "answer"},
    required=("target", "status"),
    check=_known_target,
)


class ChatWebhookSimulator(Simulator):
    """Slack incoming webhooks and a Teams Workflows trigger, in memory.

    ``slack_hooks`` maps a hook path ``T…/B…/X…`` to its state (``active``, ``revoked``,
    ``archived``); one active hook, :attr:`slack_path`, exists from the start. ``teams_sig`` is the
    signature the workflow URL must carry. ``clock`` drives the rate limit (monotonic seconds).
    """

    fault_rules = FAULT_RULES
    fault_listing = "count"

    def __init__(
        self,
        *,
        rate_per_s: float | None = 1.0,
        burst: int = 5,
        teams_sig: str = "sim-signature",
        teams_workflow_id: str = "0123456789abcdef",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.slack_path = "T0SIM0001/B0SIM0001/simsecretsimsecretsimsecr"
        self.slack_hooks: dict[str, str] = {self.slack_path: "active"}
        self.teams_sig = teams_sig
        self.teams_workflow_id = teams_workflow_id
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.messages: list[dict[str, Any]] = []
        self.render_failures: list[dict[str, Any]] = []
        self._buckets: dict[str, TokenBucket] = {}
        self.mount([
            *self.counted("POST", "/services/{team}/{bot}/{secret}", self._slack, key="POST /services"),
            *self.counted("POST", "/workflows/{workflow}/triggers/manual/paths/invoke", self._teams,
                          key="POST /workflows"),
        ])

    @property
    def teams_path(self) -> str:
        """Path and query of the Teams workflow URL (append to the simulator's base URL)."""
        return (
            f"/workflows/{self.teams_workflow_id}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.teams_sig}"
        )

    def _fault_answer(self, target: str) -> Response | None:
        fault = self.fault_book.take("POST", target)
        if fault is None:
            return None
        return PlainTextResponse(fault.body, status_code=fault.status, headers=retry_after_header(fault))

    def _rate_limited(self, key: str) -> Response | None:
        if self.rate_per_s is None:
            return None
        now = self.clock()
        bucket = self._buckets.setdefault(key, TokenBucket(self.rate_per_s, self.burst, now))
        if bucket.take(now):
            return None
        return PlainTextResponse(
            "rate_limited", status_code=429, headers={"Retry-After": str(max(1, round(bucket.wait_s())))}
        )

    async def _slack(self, request: Request) -> Response:
        path = "/".join(request.path_params[k] for k in ("team", "bot", "secret"))
        state = self.slack_hooks.get(path)
        if state is None:
            return PlainTextResponse("no_service", status_code=404)
        if state == "revoked":
            return PlainTextResponse("invalid_token", status_code=403)
        if state == "archived":
            return PlainTextResponse("channel_is_archived", status_code=410)
        refused = self._fault_answer("slack") or self._rate_limited(path)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(body, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        if not body.get("text") and not body.get("blocks"):
            return PlainTextResponse("no_text", status_code=400)
        if "blocks" in body:
            problem = validate_blocks(body["blocks"])
            if problem is not None:
                logger.info("sim slack invalid_blocks reason=%s", problem)
                return PlainTextResponse("invalid_blocks", status_code=400)
        self.messages.append({"target": "slack", "hook": path, "body": body})
        return PlainTextResponse("ok")

    async def _teams(self, request: Request) -> Response:
        if request.query_params.get("sig") != self.teams_sig:
            return JSONResponse(
                {"error": {"code": "DirectApiAuthorizationRequired", "message": "bad signature"}},
                status_code=401,
            )
        fault = self._fault_answer("teams")
        if fault is not None:
            return fault
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse(
                {"error": {"code": "InvalidRequestContent", "message": "not JSON"}}, status_code=400
            )
        problem = teams_envelope_error(body)
        if problem is None and len(raw) > MAX_MESSAGE_BYTES:
            problem = f"MessageSizeExceeded: max allowed size is {MAX_MESSAGE_BYTES} bytes"
        if problem is not None:
            self.render_failures.append({"reason": problem, "body": body})
        else:
            self.messages.append({"target": "teams", "hook": self.teams_workflow_id, "body": body})
        return Response(status_code=202)

    # -- /_sim -------------------------------------------------------------------------------------

    def stats_json(self) -> dict[str, Any]:
        return {"calls": dict(self.stats.call_counts()), "statuses": self.stats.status_counts()}

    def reset(self) -> None:
        """Forget messages, render failures, faults, rate-limit state and stats."""
        self.messages.clear()
        self.render_failures.clear()
        self.fault_book.clear()
        self._buckets.clear()
        self.stats.reset()

    def extra_admin_routes(self) -> list[Route]:
        async def messages(request: Request) -> Response:
            return JSONResponse(self.messages)

        async def render_failures(request: Request) -> Response:
            return JSONResponse(self.render_failures)

        async def reset(request: Request) -> Response:
            self.reset()
            return Response(status_code=204)

        return [
            Route("/_sim/messages", messages, methods=["GET"]),
            Route("/_sim/render_failures", render_failures, methods=["GET"]),
            Route("/_sim/reset", reset, methods=["POST"]),
        ]
