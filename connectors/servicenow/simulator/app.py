"""The ServiceNow simulator's ASGI app: Table API routes, auth, ACL, rate limits, faults, ``/_sim``.

:class:`ServiceNowSimulator` is itself an ASGI callable, so tests write
``httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))``. Every Table API call passes through
:meth:`ServiceNowSimulator._guard`: count for ``/_sim/stats``, injected faults, headers, auth,
ACL (read-only users get 403 on writes), the hourly rate limit, then the handler.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from connectors.servicenow.simulator.store import (
    TABLES,
    PolicyViolation,
    RecordStore,
    parse_query,
)

__all__ = ["Fault", "ServiceNowSimulator", "SimConfig", "SimUser", "failure"]

FaultKind = Literal["503", "500", "429", "slow"]
Handler = Callable[[Request, str], Awaitable[Response]]
_CHOICE_LABELS = {
    "impact": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
    "urgency": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
    "priority": {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low",
                 "5": "5 - Planning"},
    "state": {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed",
              "8": "Canceled", "10": "Draft", "16": "Analysis", "18": "Contain",
              "19": "Eradicate", "20": "Recover", "100": "Review"},
}
_REF_TABLE = {"assignment_group": "sys_user_group"}
_SYS_ID = re.compile(r"[0-9a-f]{32}")


def failure(status: int, message: str, detail: str = "",
            headers: dict[str, str] | None = None) -> Response:
    """ServiceNow's error envelope; the status code lives only in the status line."""
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"},
                        status_code=status, headers=headers)


@dataclass(frozen=True)
class SimUser:
    """An instance user: ``writable`` False models a read-only role (ACL 403 on writes)."""

    password: str
    writable: bool = True


@dataclass
class SimConfig:
    """Behaviour switches; every [U] item of the reference is one of these."""

    users: dict[str, SimUser] = field(default_factory=lambda: {
        "prismaflow": SimUser("sim-password"), "auditor": SimUser("sim-password", False)})
    bearer_tokens: dict[str, str] = field(default_factory=lambda: {"sim-token": "prismaflow"})
    oauth_clients: dict[str, str] = field(default_factory=lambda: {"sim-client": "sim-secret"})
    oauth_token_ttl_s: float = 1800.0
    rate_limit_per_hour: int | None = None
    require_close_fields: bool = True
    invalid_query_returns_no_rows: bool = False
    installed_tables: frozenset[str] = frozenset(TABLES)
    instance_url: str = "https://sim.service-now.com"


@dataclass
class Fault:
    """An injected failure on ``route`` (``*`` or a table name) for ``count`` calls, or for
    ``duration_s`` seconds of simulator time when given."""

    kind: FaultKind
    route: str = "*"
    count: int = 1
    duration_s: float | None = None
    delay_s: float = 0.0
    retry_after_s: float | None = None
    method: str | None = None
    started_at: float | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        allowed = {"kind", "route", "count", "duration_s", "delay_s", "retry_after_s", "method"}
        if set(raw) - allowed or raw.get("kind") not in ("503", "500", "429", "slow"):
            raise ValueError(f"bad fault {raw!r}")
        return cls(**raw)


class ServiceNowSimulator:
    """A local ServiceNow instance serving the Table API for incident, sn_si_incident and friends.

    ``clock`` (epoch seconds) drives timestamps, token expiry, rate windows and timed faults;
    tests pass a controllable one.
    """

    def __init__(self, config: SimConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or SimConfig()
        self.clock = clock
        self.store = RecordStore(clock, require_close_fields=self.config.require_close_fields,
                                 installed=self.config.installed_tables)
        self.faults: list[Fault] = []
        self.stats: dict[str, dict[str, Any]] = {}
        self._oauth: dict[str, tuple[str, float]] = {}
        self._windows: dict[str, tuple[int, int]] = {}
        table = "/api/now/table/{table}"
        one = table + "/{sys_id}"
        self.app = Starlette(routes=[
            *self._route("GET", table, self._list), *self._route("POST", table, self._create),
            *self._route("GET", one, self._get), *self._route("PATCH", one, self._update),
            *self._route("PUT", one, self._update), *self._route("DELETE", one, self._delete),
            Route("/oauth_token.do", self._oauth_token, methods=["POST"]),
            Route("/_sim/stats", self._stats, methods=["GET"]),
            Route("/_sim/stats/reset", self._reset_stats, methods=["POST"]),
            Route("/_sim/faults", self._add_faults, methods=["POST"]),
            Route("/_sim/faults", self._clear_faults, methods=["DELETE"]),
            Route("/_sim/records", self._records, methods=["GET"]),
        ])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def records(self, table: str = "incident") -> list[dict[str, str]]:
        """Every stored record of ``table`` (raw DB values), oldest first."""
        return list(self.store.tables[table].values())

    # -- the guard ---------------------------------------------------------------------------------

    def _route(self, method: str, template: str, handler: Handler) -> list[Route]:
        key = f"{method} {template}"

        async def wrapped(request: Request) -> Response:
            entry = self.stats.setdefault(key, {"calls": 0, "statuses": {}})
            entry["calls"] += 1
            response = await self._guard(request, method, handler)
            code = str(response.status_code)
            entry["statuses"][code] = entry["statuses"].get(code, 0) + 1
            return response

        return [Route(template, wrapped, methods=[method])]

    async def _guard(self, request: Request, method: str, handler: Handler) -> Response:
        fault = self._take_fault(method, request.path_params.get("table", ""))
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay_s)
            else:
                headers = ({"Retry-After": f"{fault.retry_after_s:g}"}
                           if fault.retry_after_s is not None else {})
                status = int(fault.kind)
                text = {"503": "Service Unavailable", "500": "Internal Server Error",
                        "429": "Rate limit exceeded"}[fault.kind]
                return failure(status, text, "injected fault", headers)
        accept = request.headers.get("accept", "")
        if not accept:
            return failure(400, "Accept header is required", "Missing required header: Accept")
        if "json" not in accept and "*/*" not in accept:
            return failure(406, "Not Acceptable", f"Unsupported Accept: {accept}")
        writes = method in ("POST", "PUT", "PATCH")
        if writes and "json" not in request.headers.get("content-type", ""):
            return failure(400 if not request.headers.get("content-type") else 415,
                           "Invalid Content-Type", "Content-Type must be application/json")
        user = self._authenticate(request)
        if user is None:
            return failure(401, "User Not Authenticated", "Required to provide Auth information")
        read_only = not self.config.users.get(user, SimUser("", True)).writable
        if read_only and (writes or method == "DELETE"):
            return failure(403, "Operation Failed",
                           "ACL Exception Insert/Update Failed due to security constraints")
        table = request.path_params["table"]
        if self.store.spec(table) is None:
            return failure(404, "Invalid table", f"Invalid table {table}")
        limited, headers = self._rate(user)
        if limited:
            return failure(429, "Rate limit exceeded", "Rate limit of "
                           f"{self.config.rate_limit_per_hour} requests per hour for Table API "
                           "exceeded", headers)
        response = await handler(request, user)
        response.headers.update(headers)
        return response

    def _take_fault(self, method: str, table: str) -> Fault | None:
        now = self.clock()
        for fault in list(self.faults):
            if fault.method and fault.method.upper() != method:
                continue
            if fault.route not in ("*", table):
                continue
            if fault.duration_s is not None:
                fault.started_at = now if fault.started_at is None else fault.started_at
                if now - fault.started_at >= fault.duration_s:
                    self.faults.remove(fault)
                    continue
                return fault
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def _authenticate(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (ValueError, binascii.Error):
                return None
            found = self.config.users.get(user)
            return user if found is not None and found.password == password else None
        if scheme.lower() == "bearer":
            token = value.strip()
            if token in self.config.bearer_tokens:
                return self.config.bearer_tokens[token]
            issued = self._oauth.get(token)
            if issued is not None and issued[1] > self.clock():
                return issued[0]
        return None

    def _rate(self, user: str) -> tuple[bool, dict[str, str]]:
        limit = self.config.rate_limit_per_hour
        if limit is None:
            return False, {}
        now = self.clock()
        window = int(now // 3600)
        start, used = self._windows.get(user, (window, 0))
        if start != window:
            start, used = window, 0
        reset = (window + 1) * 3600
        headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Reset": str(reset),
                   "X-RateLimit-Rule": "0f4e6ba1d7a31010a1b5f1d3a4b8c1aa"}
        if used >= limit:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
            return True, headers
        self._windows[user] = (start, used + 1)
        return False, headers

    # -- Table API ---------------------------------------------------------------------------------

    def _render(self, request: Request, table: str, record: dict[str, str]) -> dict[str, Any]:
        params = request.query_params
        wanted = [f for f in params.get("sysparm_fields", "").split(",") if f in record]
        display = params.get("sysparm_display_value", "false").lower()
        no_links = params.get("sysparm_exclude_reference_link", "false").lower() == "true"
        refs = TABLES[table].references
        out: dict[str, Any] = {}
        for name in wanted or list(record):
            value = record[name]
            shown = _CHOICE_LABELS.get(name, {}).get(value, value) if display != "false" else value
            if name in refs and _SYS_ID.fullmatch(value):
                target = _REF_TABLE.get(name, "sys_user")
                if display != "false":
                    ref = self.store.tables[target].get(value, {})
                    shown = ref.get("name", value)
                if not no_links:
                    link = f"{self.config.instance_url}/api/now/table/{target}/{value}"
                    out[name] = {"link": link, "value": value}
                    if display != "false":
                        out[name] = {"link": link, "display_value": shown}
                    if display == "all":
                        out[name]["value"] = value
                    continue
            out[name] = ({"display_value": shown, "value": value} if display == "all"
                         else shown)
        return out

    async def _list(self, request: Request, user: str) -> Response:
        table, params = request.path_params["table"], request.query_params
        try:
            limit = int(params.get("sysparm_limit", "10000"))
            offset = int(params.get("sysparm_offset", "0"))
        except ValueError:
            return failure(400, "Invalid parameter", "sysparm_limit/offset must be integers")
        if offset < 0 or limit < 0:
            return failure(400, "Invalid parameter", "sysparm_offset must not be negative")
        spec = TABLES[table]
        text = params.get("sysparm_query", "")
        if not text:  # name=value pairs are the alternative form
            text = "^".join(f"{k}={v}" for k, v in params.items() if not k.startswith("sysparm_"))
        query = parse_query(text, spec.fields)
        rows = list(self.store.tables[table].values())
        if query.invalid and self.config.invalid_query_returns_no_rows:
            rows = []
        rows = [r for r in rows if query.matches(r)]
        for name, desc in reversed(query.order):
            indexed = list(enumerate(rows))
            indexed.sort(key=lambda pair: (pair[1].get(name, ""), pair[0]), reverse=desc)
            rows = [r for _, r in indexed]
        total = len(rows)
        page = rows[offset:offset + limit]
        headers = {"X-Total-Count": str(total)}
        if params.get("sysparm_suppress_pagination_header", "false") != "true" and limit:
            headers["Link"] = self._links(request, offset, limit, total)
        return JSONResponse({"result": [self._render(request, table, r) for r in page]},
                            headers=headers)

    def _links(self, request: Request, offset: int, limit: int, total: int) -> str:
        base = f"{self.config.instance_url}{request.url.path}"
        keep = {k: v for k, v in request.query_params.items()
                if k not in ("sysparm_offset", "sysparm_limit")}

        def url(at: int) -> str:
            return base + "?" + urlencode({**keep, "sysparm_offset": at, "sysparm_limit": limit})

        last = max(0, ((total - 1) // limit) * limit) if total else 0
        links = [f'<{url(0)}>;rel="first"']
        if offset > 0:
            links.append(f'<{url(max(0, offset - limit))}>;rel="prev"')
        if offset + limit < total:
            links.append(f'<{url(offset + limit)}>;rel="next"')
        links.append(f'<{url(last)}>;rel="last"')
        return ",".join(links)

    async def _body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = await request.json()
        except ValueError:
            return failure(400, "Exception while reading request",
                           "The payload is not valid JSON.")
        if isinstance(body, list):  # one record per request: extras are ignored
            body = body[0] if body else {}
        if not isinstance(body, dict):
            return failure(400, "Exception while reading request", "Expected a JSON object.")
        return body

    async def _create(self, request: Request, user: str) -> Response:
        table = request.path_params["table"]
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            record = self.store.insert(table, body, user)
        except PolicyViolation as exc:
            return failure(exc.status, exc.message, exc.detail)
        headers = {"Location": f"{self.config.instance_url}/api/now/table/{table}/"
                               f"{record['sys_id']}"}
        return JSONResponse({"result": self._render(request, table, record)}, status_code=201,
                            headers=headers)

    def _missing(self) -> Response:
        return failure(404, "No Record found",
                       "Record doesn't exist or ACL restricts the record retrieval")

    async def _get(self, request: Request, user: str) -> Response:
        table, sys_id = request.path_params["table"], request.path_params["sys_id"]
        record = self.store.tables[table].get(sys_id)
        if record is None:
            return self._missing()
        return JSONResponse({"result": self._render(request, table, record)})

    async def _update(self, request: Request, user: str) -> Response:
        table, sys_id = request.path_params["table"], request.path_params["sys_id"]
        if sys_id not in self.store.tables[table]:
            return self._missing()
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            record = self.store.update(table, sys_id, body, user)
        except PolicyViolation as exc:
            return failure(exc.status, exc.message, exc.detail)
        if request.headers.get("x-no-response-body", "").lower() == "true":
            return Response(status_code=200)
        return JSONResponse({"result": self._render(request, table, record)})

    async def _delete(self, request: Request, user: str) -> Response:
        table, sys_id = request.path_params["table"], request.path_params["sys_id"]
        if self.store.tables[table].pop(sys_id, None) is None:
            return self._missing()
        return Response(status_code=204)

    async def _oauth_token(self, request: Request) -> Response:
        # application/x-www-form-urlencoded, parsed by hand: no python-multipart dependency.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        grant = str(form.get("grant_type", ""))
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if self.config.oauth_clients.get(client_id) != secret:
            return JSONResponse({"error": "access_denied",
                                 "error_description": "access_denied"}, status_code=401)
        user = "prismaflow"
        if grant == "password":
            user = str(form.get("username", ""))
            found = self.config.users.get(user)
            if found is None or found.password != str(form.get("password", "")):
                return JSONResponse({"error": "access_denied",
                                     "error_description": "access_denied"}, status_code=401)
        elif grant not in ("client_credentials", "refresh_token"):
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = secrets.token_urlsafe(24)
        self._oauth[token] = (user, self.clock() + self.config.oauth_token_ttl_s)
        return JSONResponse({"access_token": token, "refresh_token": secrets.token_urlsafe(24),
                             "scope": "useraccount", "token_type": "Bearer",
                             "expires_in": int(self.config.oauth_token_ttl_s)})

    # -- /_sim ---------------------------------------------------------------------------------------

    async def _stats(self, request: Request) -> Response:
        return JSONResponse({"routes": self.stats, "faults": [asdict(f) for f in self.faults]})

    async def _reset_stats(self, request: Request) -> Response:
        self.stats = {}
        return JSONResponse({"ok": True})

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

    async def _records(self, request: Request) -> Response:
        only = request.query_params.get("table")
        tables = {t: list(rows.values()) for t, rows in self.store.tables.items()
                  if only in (None, t)}
        return JSONResponse(tables)
