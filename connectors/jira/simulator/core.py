"""The simulator object: state plus one Starlette ASGI app for the Jira REST API and ``/_sim``.

``JiraSimulator`` is itself an ASGI callable, so tests write
``httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url=...)``. Every public route
passes through :meth:`JiraSimulator.endpoint`, which counts the call for ``/_sim/stats``, applies
injected faults, authenticates (basic e-mail + API token, or bearer), refuses writes by read-only
users (403), enforces the per-user token bucket (429 with Jira's headers), then runs the handler.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from connectors.jira.simulator.runtime import (
    Fault,
    RateBucket,
    SimClock,
    SimConfig,
    Stats,
)
from connectors.jira.simulator.store import IssueStore, Workflow, default_workflow
from connectors.jira.simulator.validation import jira_error

__all__ = ["Ctx", "Handler", "JiraSimulator"]

NOT_AUTHENTICATED = ("You are not authenticated. Authentication required to perform this "
                     "operation.")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ctx:
    """Who is calling and through which API version (``"2"`` or ``"3"``)."""

    user: str
    version: str


Handler = Callable[[Request, Ctx], Awaitable[Response]]


class JiraSimulator:
    """A local Jira Cloud (or Data Center, ``SimConfig(flavour="datacenter")``) for tests and demos.

    ``clock`` defaults to the wall clock; tests pass ``SimClock(base=lambda: <fixed>)`` and let the
    client under test sleep on it, so rate limits and timed outages cost no wall time.
    """

    def __init__(self, *, config: SimConfig | None = None, clock: SimClock | None = None,
                 workflow: Workflow | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = clock or SimClock()
        self.store = IssueStore(self.config.base_url, self.config.projects,
                                workflow or default_workflow(), self.config.first_issue_id)
        self.stats = Stats()
        self.faults: list[Fault] = []
        self._buckets: dict[str, RateBucket] = {}
        from connectors.jira.simulator import routes

        self.app = Starlette(routes=[*routes.routes(self), *self._admin_routes()])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    @property
    def versions(self) -> tuple[str, ...]:
        """API versions served: Cloud serves v2 and v3, Data Center only v2."""
        return ("2", "3") if self.config.flavour == "cloud" else ("2",)

    # -- the route wrapper ---------------------------------------------------------------------

    def endpoint(self, method: str, template: str, handler: Handler, *, version: str,
                 write: bool = False) -> Route:
        """A route for ``handler`` at ``template`` with the shared behaviour (see module doc)."""
        key = f"{method} {template}"

        async def wrapped(request: Request) -> Response:
            self.stats.call(key)
            response = await self._serve(request, method, template, handler, version, write)
            self.stats.status(key, response.status_code)
            return response

        return Route(template, wrapped, methods=[method])

    async def _serve(self, request: Request, method: str, template: str, handler: Handler,
                     version: str, write: bool) -> Response:
        now = self.clock.now()
        fault = self._take_fault(method, template, request.url.path, now)
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay_s)
            elif fault.kind == "429":
                wait = fault.retry_after_s if fault.retry_after_s is not None else 1
                headers = RateBucket(self.config.rate_per_s, self.config.burst, now).headers(
                    now, limited=True)
                headers.update({"Retry-After": f"{wait:g}", "Beta-Retry-After": f"{wait:g}",
                                "X-RateLimit-Remaining": "0"})
                return jira_error(429, ["Rate limit exceeded."], headers=headers)
            else:
                headers = ({"Retry-After": f"{fault.retry_after_s:g}"}
                           if fault.retry_after_s is not None else {})
                return jira_error(fault.status, ["Service unavailable (injected fault)."],
                                  headers=headers)
        user = self._authenticate(request)
        if user is None:
            return jira_error(401, [NOT_AUTHENTICATED])
        if write and user in self.config.read_only_users:
            return jira_error(403, ["You do not have permission to perform this operation."])
        bucket: RateBucket | None = None
        if self.config.rate_limits:
            bucket = self._buckets.setdefault(
                user, RateBucket(self.config.rate_per_s, self.config.burst, now))
            if not bucket.take(now):
                return jira_error(429, ["Rate limit exceeded."],
                                  headers=bucket.headers(now, limited=True))
        response = await handler(request, Ctx(user, version))
        if bucket is not None:
            response.headers.update(bucket.headers(now, limited=False))
        response.headers["X-AAccountId"] = user
        return response

    def _take_fault(self, method: str, template: str, path: str, now: float) -> Fault | None:
        self.faults = [f for f in self.faults if not f.expired(now)]
        for fault in self.faults:
            if fault.matches(method, template, path, now):
                if fault.duration_s is None:
                    fault.count -= 1
                return fault
        return None

    def add_fault(self, fault: Fault) -> None:
        """Inject ``fault``; a timed one starts now on the simulator clock."""
        if fault.duration_s is not None:
            fault.until = self.clock.now() + fault.duration_s
        self.faults.append(fault)

    def _authenticate(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self.config.bearer_tokens.get(value.strip())
        if scheme.lower() == "basic":
            try:
                user, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (ValueError, binascii.Error):
                return None
            return user if user and self.config.users.get(user) == token else None
        return None

    # -- admin API -----------------------------------------------------------------------------

    def issues_json(self) -> list[dict[str, Any]]:
        """Every issue with its fields, properties and comments (for ``/_sim/issues``)."""
        out = []
        for issue in self.store.issues.values():
            bean = self.store.bean(issue, self.versions[-1], None, list(issue.properties))
            bean["properties"] = dict(issue.properties)
            bean["comments"] = [c["body"] for c in issue.comments]
            out.append(bean)
        return out

    def _admin_routes(self) -> list[Route]:
        async def stats(request: Request) -> Response:
            return JSONResponse({**self.stats.as_json(),
                                 "faults": [asdict(f) for f in self.faults]})

        async def reset_stats(request: Request) -> Response:
            self.stats = Stats()
            return JSONResponse({"ok": True})

        async def add_faults(request: Request) -> Response:
            raw = await request.json()
            try:
                faults = [Fault.from_json(f) for f in (raw if isinstance(raw, list) else [raw])]
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            for fault in faults:
                self.add_fault(fault)
            return JSONResponse({"faults": [asdict(f) for f in self.faults]})

        async def clear_faults(request: Request) -> Response:
            self.faults.clear()
            return JSONResponse({"faults": []})

        async def issues(request: Request) -> Response:
            return JSONResponse({"issues": self.issues_json()})

        async def advance(request: Request) -> Response:
            raw = await request.json()
            self.clock.advance(float(raw.get("seconds", 0)))
            return JSONResponse({"now": self.clock.now()})

        return [
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/stats/reset", reset_stats, methods=["POST"]),
            Route("/_sim/faults", add_faults, methods=["POST"]),
            Route("/_sim/faults", clear_faults, methods=["DELETE"]),
            Route("/_sim/issues", issues, methods=["GET"]),
            Route("/_sim/advance", advance, methods=["POST"]),
        ]
