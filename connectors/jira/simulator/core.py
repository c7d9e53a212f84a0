"""The simulator object: state plus one Starlette ASGI app for the Jira REST API and ``/_sim``.

``JiraSimulator`` is a :class:`connectors.simkit.Simulator`, so tests write
``httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url=...)``. Every public route
passes through :meth:`JiraSimulator.endpoint`, which counts the call for ``/_sim/stats``, applies
injected faults, authenticates (basic e-mail + API token, or bearer), refuses writes by read-only
users (403), enforces the per-user token bucket (429 with Jira's headers), then runs the handler.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.jira.simulator import routes
from connectors.jira.simulator.handling import Ctx, Handler, Invalid
from connectors.jira.simulator.runtime import FAULT_RULES, SimClock, SimConfig, rate_headers
from connectors.jira.simulator.store import IssueStore, Workflow, default_workflow
from connectors.jira.simulator.validation import jira_error
from connectors.simkit import (Fault, Simulator, TokenBucket, basic_credentials, bearer_token,
                               retry_after_header, wait_out)

__all__ = ["Ctx", "Handler", "JiraSimulator"]

NOT_AUTHENTICATED = ("You are not authenticated. Authentication required to perform this "
                     "operation.")

logger = logging.getLogger(__name__)


class JiraSimulator(Simulator):
    """A local Jira Cloud (or Data Center, ``SimConfig(flavour="datacenter")``) for tests and demos.

    ``clock`` defaults to the wall clock; tests pass ``SimClock(base=lambda: <fixed>)`` and let the
    client under test sleep on it, so rate limits and timed outages cost no wall time.
    """

    fault_rules = FAULT_RULES

    def __init__(self, *, config: SimConfig | None = None, clock: SimClock | None = None,
                 workflow: Workflow | None = None) -> None:
        self.config = config or SimConfig()
        self.clock: SimClock = clock or SimClock()
        super().__init__(self.clock)
        self.store = IssueStore(self.config.base_url, self.config.projects,
                                workflow or default_workflow(), self.config.first_issue_id)
        self._buckets: dict[str, TokenBucket] = {}
        self.mount(routes.routes(self))

    @property
    def versions(self) -> tuple[str, ...]:
        """API versions served: Cloud serves v2 and v3, Data Center only v2."""
        return ("2", "3") if self.config.flavour == "cloud" else ("2",)

    def add_fault(self, fault: Fault) -> None:
        """Inject ``fault``; a timed one starts now on the simulator clock."""
        self.fault_book.add(fault)

    # -- the route wrapper ---------------------------------------------------------------------

    def endpoint(self, method: str, template: str, handler: Handler, *, version: str,
                 write: bool = False) -> Route:
        """A route for ``handler`` at ``template`` with the shared behaviour (see module doc)."""
        async def serve(request: Request) -> Response:
            try:
                return await self._serve(request, method, template, handler, version, write)
            except Invalid as invalid:
                return invalid.response

        return self.counted(method, template, serve)[0]

    def _fault_answer(self, fault: Fault, now: float) -> Response:
        if fault.kind == "429":
            wait = fault.retry_after_s if fault.retry_after_s is not None else 1
            headers = rate_headers(TokenBucket(self.config.rate_per_s, self.config.burst, now),
                                   now, limited=True)
            headers.update({"Retry-After": f"{wait:g}", "Beta-Retry-After": f"{wait:g}",
                            "X-RateLimit-Remaining": "0"})
            return jira_error(429, ["Rate limit exceeded."], headers=headers)
        return jira_error(fault.status, ["Service unavailable (injected fault)."],
                          headers=retry_after_header(fault))

    async def _serve(self, request: Request, method: str, template: str, handler: Handler,
                     version: str, write: bool) -> Response:
        now = self.clock.now()
        fault = self.fault_book.take(method, template, request.url.path)
        if fault is not None and fault.kind == "slow":
            await wait_out(fault)
        elif fault is not None and fault.kind != "lost_answer":
            return self._fault_answer(fault, now)
        user = self._authenticate(request)
        if user is None:
            return jira_error(401, [NOT_AUTHENTICATED])
        if write and user in self.config.read_only_users:
            return jira_error(403, ["You do not have permission to perform this operation."])
        bucket: TokenBucket | None = None
        if self.config.rate_limits:
            bucket = self._buckets.setdefault(
                user, TokenBucket(self.config.rate_per_s, self.config.burst, now))
            if not bucket.take(now):
                return jira_error(429, ["Rate limit exceeded."],
                                  headers=rate_headers(bucket, now, limited=True))
        response = await handler(self, request, Ctx(user, version))
        if fault is not None and fault.kind == "lost_answer":
            await wait_out(fault)  # the work is done; the answer comes after the client gave up on it
        if bucket is not None:
            response.headers.update(rate_headers(bucket, now, limited=False))
        response.headers["X-AAccountId"] = user
        return response

    def _authenticate(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        token = bearer_token(header)
        if token is not None:
            return self.config.bearer_tokens.get(token)
        credentials = basic_credentials(header)
        if credentials is None:
            return None
        user, api_token = credentials
        return user if user and self.config.users.get(user) == api_token else None

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

    def extra_admin_routes(self) -> list[Route]:
        async def issues(request: Request) -> Response:
            return JSONResponse({"issues": self.issues_json()})

        async def advance(request: Request) -> Response:
            raw = await request.json()
            self.clock.advance(float(raw.get("seconds", 0)))
            return JSONResponse({"now": self.clock.now()})

        return [
            Route("/_sim/issues", issues, methods=["GET"]),
            Route("/_sim/advance", advance, methods=["POST"]),
        ]
