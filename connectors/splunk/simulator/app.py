"""The HEC simulator's ASGI app: the request guard (token auth, channels, faults), acks, health.

:class:`HecSimulator` is a :class:`connectors.simkit.Simulator` (``httpx.ASGITransport(app=sim)``).
Responses are always JSON ``{"text", "code"}`` with the documented HEC codes; ``/_sim/stats``
counts them per route name beside the HTTP statuses, ``/_sim/events`` lists what was accepted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.simkit import Fault, Simulator, basic_credentials, wait_out
from connectors.splunk.simulator import collector
from connectors.splunk.simulator.config import FAULT_RULES, SimConfig, SimToken, hec_reply

__all__ = ["Fault", "HecSimulator", "SimConfig", "SimToken", "hec_reply"]

_COLLECTOR = "/services/collector"
Handler = Callable[["HecSimulator", Request, SimToken, "str | None"], Awaitable[Response]]


class HecSimulator(Simulator):
    """A local Splunk HEC input. ``events`` and ``batches`` record what was accepted."""

    fault_rules = FAULT_RULES

    def __init__(self, config: SimConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.config = config or SimConfig()
        self.events: list[dict[str, Any]] = []
        self.batches: list[dict[str, Any]] = []
        self._next_ack: dict[str, int] = {}
        self._pending: dict[str, dict[int, int]] = {}  # channel -> ack id -> polls seen
        routes = []
        for path in (_COLLECTOR, f"{_COLLECTOR}/event", f"{_COLLECTOR}/event/1.0"):
            routes += self._route("POST", path, "event", collector.event)
        for path in (f"{_COLLECTOR}/raw", f"{_COLLECTOR}/raw/1.0"):
            routes += self._route("POST", path, "raw", collector.raw)
        routes += self._route("POST", f"{_COLLECTOR}/ack", "ack", HecSimulator._ack)
        for path in (f"{_COLLECTOR}/health", f"{_COLLECTOR}/health/1.0"):
            routes += self._route("GET", path, "health", None)
        self.mount(routes)

    # -- the guard ---------------------------------------------------------------------------------

    def _route(self, method: str, path: str, name: str, handler: Handler | None) -> list[Route]:
        async def serve(request: Request) -> Response:
            return await self._guard(request, method, name, handler)

        return self.counted(method, path, serve, key=f"{method} {name}")

    def record_answer(self, key: str, response: Response) -> None:
        """Count the HTTP status and HEC's reply ``code``."""
        super().record_answer(key, response)
        self.stats.tally(key, "codes", json.loads(bytes(response.body) or b"{}").get("code"))

    async def _guard(self, request: Request, method: str, name: str,
                     handler: Handler | None) -> Response:
        fault = self.fault_book.take(method, name)
        if fault is not None and fault.kind == "slow":
            await wait_out(fault)
        elif fault is not None:
            return self._fault_answer(fault)
        if handler is None:
            return self._health(request)
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        channel = request.headers.get("x-splunk-request-channel") or \
            request.query_params.get("channel")
        if channel is not None:
            try:
                uuid.UUID(channel)
            except ValueError:
                return hec_reply(400, "Invalid data channel", 11)
        if name == "ack" and not found.use_ack:
            return hec_reply(400, "ACK is disabled", 14)
        if channel is None and (found.use_ack or name == "raw"):
            return hec_reply(400, "Data channel is missing", 10)
        return await handler(self, request, found, channel)

    @staticmethod
    def _fault_answer(fault: Fault) -> Response:
        response = (hec_reply(503, "Server is busy", 9) if fault.kind == "busy"
                    else hec_reply(500, "Internal server error", 8))
        if fault.retry_after_s is not None:
            response.headers["Retry-After"] = f"{fault.retry_after_s:g}"
        return response

    def _authenticate(self, request: Request) -> SimToken | Response:
        header = request.headers.get("authorization")
        if header is None:
            query = request.query_params.get("token")
            if query is None:
                return hec_reply(401, "Token is required", 2)
            if query not in self.config.tokens:
                return hec_reply(403, "Invalid token", 4)
            if not self.config.allow_query_string_auth:
                return hec_reply(400, "Query string authorization is not enabled", 16)
            token = query
        else:
            scheme, _, value = header.partition(" ")
            credentials = basic_credentials(header)
            if scheme == "Splunk":
                token = value.strip()
            elif credentials is not None:
                token = credentials[1]
            else:
                return hec_reply(401, "Invalid authorization", 3)
        found = self.config.tokens.get(token)
        if found is None:
            return hec_reply(403, "Invalid token", 4)
        if found.disabled:
            return hec_reply(403, "Token disabled", 1)
        return found

    # -- acknowledgement and health ----------------------------------------------------------------

    def success(self, token: SimToken, channel: str | None) -> Response:
        """HEC's success reply; on an ack channel with the batch's new ``ackId``."""
        if not token.use_ack or channel is None:
            return hec_reply(200, "Success", 0)
        ack_id = self._next_ack.get(channel, 0)
        self._next_ack[channel] = ack_id + 1
        self._pending.setdefault(channel, {})[ack_id] = 0
        return hec_reply(200, "Success", 0, ackId=ack_id)

    async def _ack(self, request: Request, token: SimToken, channel: str | None) -> Response:
        try:
            asked = (await request.json())["acks"]
            ids = [int(i) for i in asked]
        except (ValueError, KeyError, TypeError):
            return hec_reply(400, "Invalid data format", 6)
        pending = self._pending.get(channel or "", {})
        out: dict[str, bool] = {}
        for ack_id in ids:
            if ack_id not in pending:
                out[str(ack_id)] = False
                continue
            pending[ack_id] += 1
            need = self.config.ack_after_polls
            done = need is not None and pending[ack_id] >= need
            out[str(ack_id)] = done
            if done:  # ack status is deleted once retrieved
                del pending[ack_id]
        return JSONResponse({"acks": out})

    def _health(self, request: Request) -> Response:
        code = self.config.health_code
        if code == 17:
            return hec_reply(200, "HEC is healthy", 17)
        texts = {18: "HEC is unhealthy, queues are full",
                 19: "HEC is unhealthy, ack service unavailable",
                 20: "HEC is unhealthy, queues are full, ack service unavailable"}
        if code == 19 and request.query_params.get("ack") != "true":
            return hec_reply(200, "HEC is healthy", 17)
        return hec_reply(503, texts.get(code, "HEC is unhealthy"), code)

    # -- /_sim -------------------------------------------------------------------------------------

    def extra_admin_routes(self) -> list[Route]:
        async def events(request: Request) -> Response:
            return JSONResponse({"events": self.events, "batches": self.batches})

        return [Route("/_sim/events", events, methods=["GET"])]
