"""The simulator object: estate + state + one Starlette ASGI app for CSPM, Compute and ``/_sim``.

``PrismaCloudSimulator`` is a :class:`connectors.simkit.Simulator`, so tests write
``httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url=...)``. Every public route
passes through :meth:`PrismaCloudSimulator.endpoint`, which counts the call for ``/_sim/stats``,
applies injected faults, authenticates, enforces per-user rate limits, then runs the handler.
Besides simkit's admin routes it serves ``/_sim/advance`` (move time, churn alerts),
``/_sim/expire_tokens``, ``/_sim/workloads`` and ``POST /_sim/alerts/{id}/status`` (``{"status":
"resolved", "reason": "RESOURCE_UPDATED"}``: what the next scan does once a fix is applied).
"""

from __future__ import annotations

import json
import logging
import random
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.prisma.simulator import compute_routes, cspm_routes
from connectors.prisma.simulator.answers import Handler, compute_error, cspm_error
from connectors.prisma.simulator.catalog import POLICIES
from connectors.prisma.simulator.compute_estate import runtime_audit
from connectors.prisma.simulator.estate import Estate, generate_estate
from connectors.prisma.simulator.payloads import make_alert, transition
from connectors.prisma.simulator.runtime import (
    FAULT_RULES,
    RateSpec,
    SimClock,
    SimConfig,
    TokenStore,
    rate_headers,
)
from connectors.simkit import (Fault, Simulator, TokenBucket, basic_credentials, bearer_token,
                               retry_after_header, wait_out)

__all__ = ["PrismaCloudSimulator"]

logger = logging.getLogger(__name__)

#: Statuses ``POST /_sim/alerts/{id}/status`` may set (what a scan or a person does to an alert).
_SETTABLE_STATUSES = frozenset({"open", "resolved"})


class PrismaCloudSimulator(Simulator):
    """A local Prisma Cloud tenant (CSPM + Compute) speaking the public API.

    ``clock`` defaults to the wall clock; pass ``SimClock(base=lambda: <fixed>)`` in tests and move
    time with :meth:`advance` (which also churns alert statuses) or ``clock.advance``.
    """

    fault_rules = FAULT_RULES

    def __init__(
        self,
        estate: Estate | None = None,
        *,
        config: SimConfig | None = None,
        clock: SimClock | None = None,
        seed: int = 7,
        n_alerts: int = 500,
    ) -> None:
        self.config = config or SimConfig()
        self.clock: SimClock = clock or SimClock()
        super().__init__(self.clock)
        self.estate = estate or generate_estate(seed, n_alerts, now_ms=self.clock.now_ms())
        self.seed = self.estate.seed
        self.tokens = TokenStore(self.config.secret)
        self.snapshots: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._ticks = 0
        self._pending_s = 0.0
        self.changes: list[dict[str, Any]] = []
        self.mount([*cspm_routes.routes(self), *compute_routes.routes(self)])

    @property
    def alerts(self) -> dict[str, dict[str, Any]]:
        return self.estate.alerts

    # -- the route wrapper ---------------------------------------------------------------------

    def endpoint(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        auth: str | None,
        rate: RateSpec | None = None,
        paths: tuple[str, ...] = (),
    ) -> list[Route]:
        """Routes for ``handler`` at ``template`` (and alias ``paths``) with the shared behaviour.

        ``auth`` is ``"cspm"`` (``x-redlock-auth``), ``"compute"`` (Bearer, Basic or
        ``x-redlock-auth``) or None. Stats are keyed by ``template`` whichever alias was called.
        """
        async def serve(request: Request) -> Response:
            return await self._serve(request, method, template, handler, auth, rate)

        return self.counted(method, template, serve, paths=paths)

    def _fault_answer(self, fault: Fault, compute: bool, rate: RateSpec | None) -> Response | None:
        """What an injected fault answers (None: carry on, after its side effect)."""
        if fault.kind == "expire_tokens":
            self.tokens.expire_all(self.clock.now())
            return None
        if fault.kind == "401":
            return compute_error(401, "unauthorized") if compute else cspm_error(401, "token_expired")
        status = 429 if fault.kind == "429" else fault.status
        headers = retry_after_header(fault)
        if status == 429 and rate is not None:
            headers.update(rate_headers(rate))
        body = json.dumps({"err": "injected fault"} if compute else
                          {"error": {"code": "ServiceUnavailable", "message": "injected fault"}})
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    async def _serve(self, request: Request, method: str, template: str, handler: Handler,
                     auth: str | None, rate: RateSpec | None) -> Response:
        fault = self.fault_book.take(method, template, request.url.path)
        compute = auth == "compute"
        if fault is not None and fault.kind == "slow":
            await wait_out(fault)
        elif fault is not None:
            answer = self._fault_answer(fault, compute, rate)
            if answer is not None:
                return answer
        user = ""
        if auth is not None:
            found = self._authenticate(request, compute)
            if found is None:
                return compute_error(401, "unauthorized") if compute else Response(b"", status_code=401)
            user = found
        if rate is None or not self.config.rate_limits:
            return await handler(self, request, user)
        bucket = self._bucket(user, rate)
        if not bucket.take(self.clock.now()):
            headers = rate_headers(rate, bucket)
            if self.config.retry_after_on_429:
                headers["Retry-After"] = str(bucket.retry_after_s())
            if not compute:
                return Response(b"", status_code=429, headers=headers)
            return JSONResponse({"err": "rate limit exceeded"}, status_code=429, headers=headers)
        response = await handler(self, request, user)
        if not compute:
            response.headers.update(rate_headers(rate, bucket))
        return response

    def _authenticate(self, request: Request, compute: bool) -> str | None:
        now = self.clock.now()
        redlock = self.tokens.lookup(request.headers.get("x-redlock-auth"), now, ("cspm",))
        if not compute:
            return redlock.user if redlock else None
        if redlock:
            return redlock.user
        header = request.headers.get("authorization", "")
        token = bearer_token(header)
        if token is not None:
            info = self.tokens.lookup(token, now, ("compute", "cspm"))
            return info.user if info else None
        credentials = basic_credentials(header)
        if credentials is None:
            return None
        user, password = credentials
        return user if self.config.users.get(user) == password else None

    def _bucket(self, user: str, rate: RateSpec) -> TokenBucket:
        key = (user, rate.name)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(rate.rate, rate.burst, self.clock.now())
        return self._buckets[key]

    # -- time and churn ------------------------------------------------------------------------

    def expire_tokens(self) -> int:
        """Expire every issued token now (CSPM and Compute); returns how many."""
        return self.tokens.expire_all(self.clock.now())

    def update_alert(self, alert: dict[str, Any]) -> None:
        """Store a new version of an alert and remember it for webhook delivery."""
        self.estate.alerts[alert["id"]] = alert
        self.changes.append(alert)

    def advance(self, seconds: float) -> list[dict[str, Any]]:
        """Move time forward and apply one churn tick per ``config.tick_s``; returns changed alerts.

        Deterministic for a given seed and sequence of calls.
        """
        self.clock.advance(seconds)
        self._pending_s += seconds
        changed: list[dict[str, Any]] = []
        while self._pending_s >= self.config.tick_s:
            self._pending_s -= self.config.tick_s
            changed.extend(self._tick())
        return changed

    def tick(self) -> list[dict[str, Any]]:
        """Advance by exactly one tick."""
        return self.advance(self.config.tick_s)

    def churn(self) -> list[dict[str, Any]]:
        """One churn step at the current time without moving the clock (wall-clock mode)."""
        return self._tick()

    def _tick(self) -> list[dict[str, Any]]:
        self._ticks += 1
        rng = random.Random(f"{self.seed}:{self._ticks}")
        now_ms = self.clock.now_ms()
        by_status: dict[str, list[dict[str, Any]]] = {}
        for alert in sorted(self.alerts.values(), key=lambda a: int(a["id"][2:])):
            by_status.setdefault(alert["status"], []).append(alert)
        changed = []
        for alert in by_status.get("snoozed", []):
            if 0 < alert.get("dismissalUntilTs", -1) <= now_ms:
                changed.append(transition(alert, "open", "SNOOZED_AUTO_REOPEN", now_ms))
        opened = by_status.get("open", [])
        for alert in rng.sample(opened, min(len(opened), rng.choice((0, 1, 1, 2)))):
            reason = rng.choice(("RESOURCE_UPDATED", "RESOURCE_DELETED", "POLICY_UPDATED"))
            changed.append(transition(alert, "resolved", reason, now_ms))
        resolved = by_status.get("resolved", [])
        if resolved and rng.random() < 0.3:
            changed.append(transition(rng.choice(resolved), "open", "RESOURCE_UPDATED", now_ms))
        rest = [a for a in opened if a["id"] not in {c["id"] for c in changed}]
        if rest and rng.random() < 0.15:
            changed.append(transition(rng.choice(rest), "dismissed", "USER_DISMISSED", now_ms,
                                      by="secops@acme.example", note="Risk accepted"))
        for _ in range(rng.choice((0, 1, 1, 2))):
            if not self.estate.candidates:
                break
            pid, rrn = self.estate.candidates.pop(rng.randrange(len(self.estate.candidates)))
            res = self.estate.resources[rrn]
            meta = self.estate.compute.cspm_metadata(pid, res["id"])
            changed.append(make_alert(self.estate.next_alert_number, POLICIES[pid], res, now_ms,
                                      metadata=meta))
            self.estate.next_alert_number += 1
        if self.estate.workloads and rng.random() < 0.3:
            w = rng.choice(self.estate.workloads)
            self.estate.compute.audits["host"].append(runtime_audit(rng, w, now_ms, container=None))
        for alert in changed:
            self.update_alert(alert)
        logger.debug("sim tick tick=%d changed=%d", self._ticks, len(changed))
        return changed

    # -- admin API -----------------------------------------------------------------------------

    def accept_fault(self, fault: Fault) -> None:
        """An ``expire_tokens`` fault on every route acts at once; any other waits for its call."""
        if fault.kind == "expire_tokens" and fault.route == "*":
            self.expire_tokens()
        else:
            self.fault_book.add(fault)

    def extra_admin_routes(self) -> list[Route]:
        async def advance(request: Request) -> Response:
            raw = await request.json()
            changed = self.advance(float(raw.get("seconds", self.config.tick_s)))
            return JSONResponse({"changed": [a["id"] for a in changed],
                                 "now_ms": self.clock.now_ms()})

        async def expire(request: Request) -> Response:
            return JSONResponse({"expired": self.expire_tokens()})

        async def workloads(request: Request) -> Response:
            return JSONResponse([asdict(w) for w in self.estate.workloads])

        async def set_status(request: Request) -> Response:
            # What Prisma Cloud's next scan does once a fix is applied: the alert moves to
            # ``resolved`` (reason RESOURCE_UPDATED); tests of the executor's re-check drive it here.
            alert = self.alerts.get(request.path_params["id"])
            if alert is None:
                return JSONResponse({"error": "no such alert"}, status_code=404)
            raw = await request.json()
            status = raw.get("status") if isinstance(raw, dict) else None
            if status not in _SETTABLE_STATUSES:
                return JSONResponse({"error": f"status must be one of {sorted(_SETTABLE_STATUSES)}"},
                                    status_code=400)
            reason = str(raw.get("reason") or "RESOURCE_UPDATED")
            self.update_alert(transition(alert, status, reason, self.clock.now_ms()))
            return JSONResponse({"id": alert["id"], "status": status, "reason": reason})

        return [
            Route("/_sim/advance", advance, methods=["POST"]),
            Route("/_sim/expire_tokens", expire, methods=["POST"]),
            Route("/_sim/workloads", workloads, methods=["GET"]),
            Route("/_sim/alerts/{id}/status", set_status, methods=["POST"]),
        ]
