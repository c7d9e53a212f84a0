"""The HEC simulator's ASGI app: collector routes, token auth, channels and acks, faults, ``/_sim``.

:class:`HecSimulator` is itself an ASGI callable (``httpx.ASGITransport(app=sim)``). Responses are
always JSON ``{"text", "code"}`` with the documented HEC codes; every [U] choice of the reference
(all-or-nothing batches, when an ack turns true, what size 413 counts) is a :class:`SimConfig`
switch.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = ["Fault", "HecSimulator", "SimConfig", "SimToken", "hec_reply"]

FaultKind = Literal["busy", "500", "slow"]
_COLLECTOR = "/services/collector"
Handler = Callable[[Request, "SimToken", "str | None"], Awaitable[Response]]


def hec_reply(status: int, text: str, code: int | None, **extra: Any) -> Response:
    """HEC's reply body ``{"text", "code", ...}``."""
    body: dict[str, Any] = {"text": text}
    if code is not None:
        body["code"] = code
    body.update({k.replace("_", "-"): v for k, v in extra.items()})
    return JSONResponse(body, status_code=status)


@dataclass(frozen=True)
class SimToken:
    """A HEC token's input settings."""

    indexes: tuple[str, ...] = ("main", "security", "prisma")
    default_index: str = "main"
    use_ack: bool = False
    disabled: bool = False


@dataclass
class SimConfig:
    """Behaviour switches."""

    tokens: dict[str, SimToken] = field(default_factory=lambda: {
        "11111111-2222-3333-4444-555555555555": SimToken(),
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee": SimToken(use_ack=True),
    })
    allow_query_string_auth: bool = False
    max_content_length: int = 1_000_000  # Splunk Cloud; 838_860_800 for Enterprise >= 6.5
    max_event_size: int = 5 * 1024 * 1024
    all_or_nothing: bool = True
    ack_after_polls: int | None = 1  # None: never acknowledged
    health_code: int = 17


@dataclass
class Fault:
    """An injected failure on ``route`` (``*``, ``event``, ``raw``, ``ack``, ``health``)."""

    kind: FaultKind
    route: str = "*"
    count: int = 1
    delay_s: float = 0.0
    retry_after_s: float | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        allowed = {"kind", "route", "count", "delay_s", "retry_after_s"}
        if set(raw) - allowed or raw.get("kind") not in ("busy", "500", "slow"):
            raise ValueError(f"bad fault {raw!r}")
        return cls(**raw)


class _Invalid(Exception):
    def __init__(self, code: int, text: str, number: int) -> None:
        super().__init__(text)
        self.code, self.text, self.number = code, text, number


class HecSimulator:
    """A local Splunk HEC input. ``events`` and ``batches`` record what was accepted."""

    def __init__(self, config: SimConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or SimConfig()
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self.batches: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.stats: dict[str, dict[str, Any]] = {}
        self._next_ack: dict[str, int] = {}
        self._pending: dict[str, dict[int, int]] = {}  # channel -> ack id -> polls seen
        routes = []
        for path in (_COLLECTOR, f"{_COLLECTOR}/event", f"{_COLLECTOR}/event/1.0"):
            routes += self._route("POST", path, "event", self._event)
        for path in (f"{_COLLECTOR}/raw", f"{_COLLECTOR}/raw/1.0"):
            routes += self._route("POST", path, "raw", self._raw)
        routes += self._route("POST", f"{_COLLECTOR}/ack", "ack", self._ack)
        for path in (f"{_COLLECTOR}/health", f"{_COLLECTOR}/health/1.0"):
            routes += self._route("GET", path, "health", None)
        routes += [
            Route("/_sim/stats", self._stats, methods=["GET"]),
            Route("/_sim/events", self._events, methods=["GET"]),
            Route("/_sim/faults", self._add_faults, methods=["POST"]),
            Route("/_sim/faults", self._clear_faults, methods=["DELETE"]),
        ]
        self.app = Starlette(routes=routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    # -- the guard ---------------------------------------------------------------------------------

    def _route(self, method: str, path: str, name: str, handler: Handler | None) -> list[Route]:
        key = f"{method} {name}"

        async def wrapped(request: Request) -> Response:
            entry = self.stats.setdefault(key, {"calls": 0, "statuses": {}, "codes": {}})
            entry["calls"] += 1
            response = await self._guard(request, name, handler)
            code = json.loads(bytes(response.body) or b"{}").get("code")
            entry["statuses"][str(response.status_code)] = \
                entry["statuses"].get(str(response.status_code), 0) + 1
            entry["codes"][str(code)] = entry["codes"].get(str(code), 0) + 1
            return response

        return [Route(path, wrapped, methods=[method])]

    async def _guard(self, request: Request, name: str, handler: Handler | None) -> Response:
        fault = self._take_fault(name)
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay_s)
            else:
                response = (hec_reply(503, "Server is busy", 9) if fault.kind == "busy"
                            else hec_reply(500, "Internal server error", 8))
                if fault.retry_after_s is not None:
                    response.headers["Retry-After"] = f"{fault.retry_after_s:g}"
                return response
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
        return await handler(request, found, channel)

    def _take_fault(self, name: str) -> Fault | None:
        for fault in self.faults:
            if fault.route in ("*", name):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

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
            if scheme == "Splunk":
                token = value.strip()
            elif scheme.lower() == "basic":
                try:
                    token = base64.b64decode(value, validate=True).decode().partition(":")[2]
                except (ValueError, binascii.Error):
                    return hec_reply(401, "Invalid authorization", 3)
            else:
                return hec_reply(401, "Invalid authorization", 3)
        found = self.config.tokens.get(token)
        if found is None:
            return hec_reply(403, "Invalid token", 4)
        if found.disabled:
            return hec_reply(403, "Token disabled", 1)
        return found

    # -- collector ---------------------------------------------------------------------------------

    async def _read(self, request: Request) -> tuple[bytes, bytes] | Response:
        wire = await request.body()
        data = wire
        if request.headers.get("content-encoding", "").lower() == "gzip":
            try:
                data = gzip.decompress(wire)
            except (OSError, EOFError, zlib.error):
                return hec_reply(400, "Invalid data format", 6)
        if len(data) > self.config.max_content_length:
            return hec_reply(413, f"Content-Length of {len(data)} too large (maximum is "
                                  f"{self.config.max_content_length})", None)
        if not data.strip():
            return hec_reply(400, "No data", 5)
        return wire, data

    def _check(self, obj: Any, token: SimToken, number: int) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise _Invalid(6, "Invalid data format", number)
        if "event" not in obj:
            raise _Invalid(12, "Event field is required", number)
        if obj["event"] in ("", None):
            raise _Invalid(13, "Event field cannot be blank", number)
        fields = obj.get("fields", {})
        if not isinstance(fields, dict) or any(
                not (isinstance(v, str) or (isinstance(v, list)
                                            and all(isinstance(i, str) for i in v)))
                for v in fields.values()):
            raise _Invalid(15, "Error in handling indexed fields", number)
        index = obj.get("index", token.default_index)
        if index not in token.indexes:
            raise _Invalid(7, "Incorrect index", number)
        stamp = obj.get("time", self.clock())
        try:
            stamp = float(stamp)
        except (TypeError, ValueError):
            raise _Invalid(6, "Invalid data format", number) from None
        if len(json.dumps(obj)) > self.config.max_event_size:
            raise _Invalid(6, "Invalid data format", number)
        return {"time": stamp, "host": obj.get("host", "sim-hec"),
                "source": obj.get("source", "http:prismaflow"),
                "sourcetype": obj.get("sourcetype", "httpevent"), "index": index,
                "event": obj["event"], "fields": fields}

    async def _event(self, request: Request, token: SimToken, channel: str | None) -> Response:
        read = await self._read(request)
        if isinstance(read, Response):
            return read
        wire, data = read
        accepted: list[dict[str, Any]] = []
        error: _Invalid | None = None
        decoder, text, at = json.JSONDecoder(), data.decode("utf-8", "replace"), 0
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            try:
                obj, at = decoder.raw_decode(text, at)
                accepted.append(self._check(obj, token, len(accepted)))
            except ValueError:
                error = _Invalid(6, "Invalid data format", len(accepted))
                break
            except _Invalid as exc:
                error = exc
                break
        if error is not None and self.config.all_or_nothing:
            accepted = []
        self._store(accepted, wire, data, request, channel)
        if error is not None:
            return hec_reply(400, error.text, error.code, invalid_event_number=error.number)
        return self._success(token, channel)

    async def _raw(self, request: Request, token: SimToken, channel: str | None) -> Response:
        read = await self._read(request)
        if isinstance(read, Response):
            return read
        wire, data = read
        q = request.query_params
        index = q.get("index", token.default_index)
        if index not in token.indexes:
            return hec_reply(400, "Incorrect index", 7, invalid_event_number=0)
        lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
        self._store([{"time": self.clock(), "host": q.get("host", "sim-hec"),
                      "source": q.get("source", "http:prismaflow"),
                      "sourcetype": q.get("sourcetype", "httpevent"), "index": index,
                      "event": line, "fields": {}} for line in lines], wire, data, request,
                    channel)
        return self._success(token, channel)

    def _store(self, accepted: list[dict[str, Any]], wire: bytes, data: bytes, request: Request,
               channel: str | None) -> None:
        if not accepted:
            return
        number = len(self.batches)
        self.batches.append({"batch": number, "events": len(accepted), "wire_bytes": len(wire),
                             "bytes": len(data), "channel": channel,
                             "gzip": request.headers.get("content-encoding") == "gzip"})
        self.events.extend({**event, "batch": number} for event in accepted)

    def _success(self, token: SimToken, channel: str | None) -> Response:
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

    async def _stats(self, request: Request) -> Response:
        return JSONResponse({"routes": self.stats, "faults": [asdict(f) for f in self.faults]})

    async def _events(self, request: Request) -> Response:
        return JSONResponse({"events": self.events, "batches": self.batches})

    async def _add_faults(self, request: Request) -> Response:
        raw = await request.json()
        try:
            faults = [Fault.from_json(f) for f in (raw if isinstance(raw, list) else [raw])]
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.faults.extend(faults)
        return JSONResponse({"faults": [asdict(f) for f in self.faults]})

    async def _clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return JSONResponse({"faults": []})
