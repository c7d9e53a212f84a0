"""A local Slack incoming-webhook and Teams Workflows endpoint, for tests and demos.

:class:`ChatWebhookSimulator` is one Starlette ASGI app (use it with ``httpx.ASGITransport`` or
run it with ``python -m connectors.slack.simulator --port 8282``) that answers like the real
services (see ``sinks-api.md`` §6.4 and §6.5):

* Slack ``POST /services/<T>/<B>/<X>``: ``200 ok`` (text/plain); ``404 no_service`` for an unknown
  hook, ``403 invalid_token`` for a revoked one, ``410 channel_is_archived``; ``400
  invalid_payload`` for a body that is not a JSON object, ``400 no_text`` without ``text`` and
  ``blocks``, ``400 invalid_blocks`` when Block Kit limits are broken; ``429`` + ``Retry-After``
  from a token bucket (1 message/s, burst 5 by default).
* Teams ``POST /workflows/<id>/triggers/manual/paths/invoke?sig=…``: ``401`` for a missing or
  wrong ``sig``, ``400`` for a body that is not JSON, else ``202`` with an empty body, even when
  the card would fail to render; such failures (bad envelope, over 28672 bytes) go to a side
  list, as they would to the flow's run history.

Admin API: ``GET /_sim/messages`` (accepted bodies), ``GET /_sim/render_failures``, ``GET
/_sim/stats`` (calls and statuses per route), ``POST /_sim/faults`` (``{"target": "slack"|"teams",
"status": 429, "body": "...", "retry_after_s": 1, "count": 1}``), ``POST /_sim/reset``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from connectors.slack.blocks import LIMITS
from connectors.slack.teams import ADAPTIVE_CARD_CONTENT_TYPE, MAX_MESSAGE_BYTES

__all__ = ["ChatWebhookSimulator", "SimFault", "validate_blocks"]

logger = logging.getLogger(__name__)


@dataclass
class SimFault:
    """An injected answer for the next ``count`` calls to ``target`` ("slack" or "teams")."""

    target: str
    status: int
    body: str = ""
    retry_after_s: float | None = None
    count: int = 1


@dataclass
class _Bucket:
    rate_per_s: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float | None:
        """None when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate_per_s


@dataclass
class _Stats:
    calls: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def record(self, route: str, status: int) -> None:
        self.calls[route] += 1
        self.statuses.setdefault(route, Counter())[status] += 1


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
                    if len(str(element.get("action_id", ""))) > LIMITS["action_id"]:
                        return f"block {index}: action_id length"
        elif kind not in {"divider", "image", "rich_text", "input", "file", "video"}:
            return f"block {index}: unknown type {kind!r}"
    return None


def _teams_envelope_error(body: Any) -> str | None:
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


class ChatWebhookSimulator:
    """Slack incoming webhooks and a Teams Workflows trigger, in memory.

    ``slack_hooks`` maps a hook path ``T…/B…/X…`` to its state (``active``, ``revoked``,
    ``archived``); one active hook, :attr:`slack_path`, exists from the start. ``teams_sig`` is the
    signature the workflow URL must carry. ``clock`` drives the rate limit (monotonic seconds).
    """

    def __init__(
        self,
        *,
        rate_per_s: float | None = 1.0,
        burst: int = 5,
        teams_sig: str = "sim-signature",
        teams_workflow_id: str = "0123456789abcdef",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack_path = "T0SIM0001/B0SIM0001/simsecretsimsecretsimsecr"
        self.slack_hooks: dict[str, str] = {self.slack_path: "active"}
        self.teams_sig = teams_sig
        self.teams_workflow_id = teams_workflow_id
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.clock = clock
        self.messages: list[dict[str, Any]] = []
        self.render_failures: list[dict[str, Any]] = []
        self.faults: list[SimFault] = []
        self.stats = _Stats()
        self._buckets: dict[str, _Bucket] = {}
        self.app = Starlette(
            routes=[
                Route("/services/{team}/{bot}/{secret}", self._slack, methods=["POST"]),
                Route(
                    "/workflows/{workflow}/triggers/manual/paths/invoke",
                    self._teams,
                    methods=["POST"],
                ),
                Route("/_sim/messages", self._sim_messages, methods=["GET"]),
                Route("/_sim/render_failures", self._sim_render_failures, methods=["GET"]),
                Route("/_sim/stats", self._sim_stats, methods=["GET"]),
                Route("/_sim/faults", self._sim_faults, methods=["POST"]),
                Route("/_sim/reset", self._sim_reset, methods=["POST"]),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    @property
    def teams_path(self) -> str:
        """Path and query of the Teams workflow URL (append to the simulator's base URL)."""
        return (
            f"/workflows/{self.teams_workflow_id}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.teams_sig}"
        )

    def _take_fault(self, target: str) -> Response | None:
        for fault in self.faults:
            if fault.target == target and fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                headers = {}
                if fault.retry_after_s is not None:
                    headers["Retry-After"] = f"{fault.retry_after_s:g}"
                return PlainTextResponse(fault.body, status_code=fault.status, headers=headers)
        return None

    def _rate_limited(self, key: str) -> Response | None:
        if self.rate_per_s is None:
            return None
        now = self.clock()
        bucket = self._buckets.setdefault(
            key, _Bucket(self.rate_per_s, float(self.burst), float(self.burst), now)
        )
        wait = bucket.take(now)
        if wait is None:
            return None
        return PlainTextResponse(
            "rate_limited", status_code=429, headers={"Retry-After": str(max(1, round(wait)))}
        )

    async def _slack(self, request: Request) -> Response:
        response = await self._slack_answer(request)
        self.stats.record("POST /services", response.status_code)
        return response

    async def _slack_answer(self, request: Request) -> Response:
        path = "/".join(request.path_params[k] for k in ("team", "bot", "secret"))
        state = self.slack_hooks.get(path)
        if state is None:
            return PlainTextResponse("no_service", status_code=404)
        if state == "revoked":
            return PlainTextResponse("invalid_token", status_code=403)
        if state == "archived":
            return PlainTextResponse("channel_is_archived", status_code=410)
        fault = self._take_fault("slack")
        if fault is not None:
            return fault
        limited = self._rate_limited(path)
        if limited is not None:
            return limited
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
        response = await self._teams_answer(request)
        self.stats.record("POST /workflows", response.status_code)
        return response

    async def _teams_answer(self, request: Request) -> Response:
        if request.query_params.get("sig") != self.teams_sig:
            return JSONResponse(
                {"error": {"code": "DirectApiAuthorizationRequired", "message": "bad signature"}},
                status_code=401,
            )
        fault = self._take_fault("teams")
        if fault is not None:
            return fault
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse(
                {"error": {"code": "InvalidRequestContent", "message": "not JSON"}}, status_code=400
            )
        problem = _teams_envelope_error(body)
        if problem is None and len(raw) > MAX_MESSAGE_BYTES:
            problem = f"MessageSizeExceeded: max allowed size is {MAX_MESSAGE_BYTES} bytes"
        if problem is not None:
            self.render_failures.append({"reason": problem, "body": body})
        else:
            self.messages.append({"target": "teams", "hook": self.teams_workflow_id, "body": body})
        return Response(status_code=202)

    async def _sim_messages(self, request: Request) -> Response:
        return JSONResponse(self.messages)

    async def _sim_render_failures(self, request: Request) -> Response:
        return JSONResponse(self.render_failures)

    async def _sim_stats(self, request: Request) -> Response:
        return JSONResponse(
            {
                "calls": dict(self.stats.calls),
                "statuses": {k: {str(s): n for s, n in v.items()} for k, v in self.stats.statuses.items()},
            }
        )

    async def _sim_faults(self, request: Request) -> Response:
        try:
            spec = json.loads(await request.body())
            fault = SimFault(**spec)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if fault.target not in ("slack", "teams"):
            return JSONResponse({"error": "target must be slack or teams"}, status_code=400)
        self.faults.append(fault)
        return JSONResponse({"faults": len(self.faults)})

    async def _sim_reset(self, request: Request) -> Response:
        self.messages.clear()
        self.render_failures.clear()
        self.faults.clear()
        self._buckets.clear()
        self.stats = _Stats()
        return Response(status_code=204)


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator: ``python -m connectors.slack.simulator --port 8282``."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8282)
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args(argv)
    sim = ChatWebhookSimulator(rate_per_s=None if args.no_rate_limit else 1.0)
    base = f"http://{args.host}:{args.port}"
    print(f"slack webhook: {base}/services/{sim.slack_path}")
    print(f"teams workflow: {base}{sim.teams_path}")
    uvicorn.run(sim, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
