"""The ServiceNow simulator's ASGI app: the request guard (auth, ACL, rate limits, faults), ``/_sim``.

:class:`ServiceNowSimulator` is a :class:`connectors.simkit.Simulator`, so tests write
``httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))``. Every Table API call passes through
:meth:`ServiceNowSimulator._guard`: count for ``/_sim/stats``, injected faults, headers, auth,
ACL (read-only users get 403 on writes), the hourly rate limit, then the handler in
:mod:`.table_api`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.servicenow.simulator import table_api
from connectors.servicenow.simulator.config import FAULT_RULES, SimConfig, SimUser, failure
from connectors.servicenow.simulator.oauth import oauth_token
from connectors.servicenow.simulator.store import RecordStore
from connectors.simkit import (Fault, Simulator, basic_credentials, bearer_token, retry_after_header,
                               wait_out)

__all__ = ["Fault", "ServiceNowSimulator", "SimConfig", "SimUser", "failure"]

Handler = Callable[["ServiceNowSimulator", Request, str], Awaitable[Response]]
_FAULT_TEXT = {"503": "Service Unavailable", "500": "Internal Server Error", "429": "Rate limit exceeded"}


class ServiceNowSimulator(Simulator):
    """A local ServiceNow instance serving the Table API for incident, sn_si_incident and friends.

    ``clock`` (epoch seconds) drives timestamps, token expiry, rate windows and timed faults;
    tests pass a controllable one.
    """

    fault_rules = FAULT_RULES

    def __init__(self, config: SimConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.config = config or SimConfig()
        self.store = RecordStore(clock, require_close_fields=self.config.require_close_fields,
                                 installed=self.config.installed_tables)
        self.oauth_tokens: dict[str, tuple[str, float]] = {}
        self._windows: dict[str, tuple[int, int]] = {}
        table = "/api/now/table/{table}"
        one = table + "/{sys_id}"

        async def issue_token(request: Request) -> Response:
            return await oauth_token(self, request)

        self.mount([
            *self._route("GET", table, table_api.list_records),
            *self._route("POST", table, table_api.create),
            *self._route("GET", one, table_api.get),
            *self._route("PATCH", one, table_api.update),
            *self._route("PUT", one, table_api.update),
            *self._route("DELETE", one, table_api.delete),
            Route("/oauth_token.do", issue_token, methods=["POST"]),
        ])

    def records(self, table: str = "incident") -> list[dict[str, str]]:
        """Every stored record of ``table`` (raw DB values), oldest first."""
        return list(self.store.tables[table].values())

    # -- the guard ---------------------------------------------------------------------------------

    def _route(self, method: str, template: str, handler: Handler) -> list[Route]:
        async def serve(request: Request) -> Response:
            return await self._guard(request, method, handler)

        return self.counted(method, template, serve)

    def _admit(self, request: Request, method: str) -> str | Response:
        """The calling user, or why the instance refuses the request (headers, auth, ACL, table)."""
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
        return user

    async def _guard(self, request: Request, method: str, handler: Handler) -> Response:
        fault = self.fault_book.take(method, request.path_params.get("table", ""))
        if fault is not None and fault.kind == "slow":
            await wait_out(fault)
        elif fault is not None:
            return failure(int(fault.kind), _FAULT_TEXT[fault.kind], "injected fault",
                           retry_after_header(fault))
        user = self._admit(request, method)
        if isinstance(user, Response):
            return user
        limited, headers = self._rate(user)
        if limited:
            return failure(429, "Rate limit exceeded", "Rate limit of "
                           f"{self.config.rate_limit_per_hour} requests per hour for Table API "
                           "exceeded", headers)
        response = await handler(self, request, user)
        response.headers.update(headers)
        return response

    def _authenticate(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        credentials = basic_credentials(header)
        if credentials is not None:
            user, password = credentials
            found = self.config.users.get(user)
            return user if found is not None and found.password == password else None
        token = bearer_token(header)
        if token is None:
            return None
        if token in self.config.bearer_tokens:
            return self.config.bearer_tokens[token]
        issued = self.oauth_tokens.get(token)
        return issued[0] if issued is not None and issued[1] > self.clock() else None

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

    # -- /_sim ---------------------------------------------------------------------------------------

    def extra_admin_routes(self) -> list[Route]:
        async def records(request: Request) -> Response:
            only = request.query_params.get("table")
            tables: dict[str, Any] = {t: list(rows.values()) for t, rows in self.store.tables.items()
                                      if only in (None, t)}
            return JSONResponse(tables)

        return [Route("/_sim/records", records, methods=["GET"])]
