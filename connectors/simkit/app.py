"""The base every simulator is built on: one ASGI app, counted routes, faults and the admin API.

A simulator subclasses :class:`Simulator`, names its fault format (``fault_rules``), builds its
public routes with :meth:`Simulator.counted` (so ``GET /_sim/stats`` counts every call and answer)
and hands them to :meth:`Simulator.mount`, which adds the admin routes every simulator serves:

=====================  =======  ==========================================================
``/_sim/stats``        GET      calls and answers per route, and the pending faults
``/_sim/stats/reset``  POST     forget the counts
``/_sim/faults``       POST     inject one fault or a list (400 for one the simulator refuses)
``/_sim/faults``       DELETE   drop every pending fault
=====================  =======  ==========================================================

plus whatever :meth:`Simulator.extra_admin_routes` adds (a simulator's own state: issues, records,
events, time). The simulator object is itself an ASGI callable, so tests write
``httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from connectors.simkit.faults import Fault, FaultBook, FaultRules
from connectors.simkit.stats import RouteStats

__all__ = ["Serve", "Simulator"]

Serve = Callable[[Request], Awaitable[Response]]


class Simulator:
    """Shared behaviour of the local stand-ins for outside services (see module doc).

    ``clock`` is the simulator's time (epoch or monotonic seconds): timed faults run on it, and
    the simulator keeps it as :attr:`clock`.
    ``fault_listing`` says how the fault endpoints answer: the pending faults themselves
    (``"list"``) or how many are pending (``"count"``).
    """

    fault_rules: ClassVar[FaultRules]
    fault_listing: ClassVar[Literal["list", "count"]] = "list"
    app: Starlette

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.stats = RouteStats()
        self.fault_book = FaultBook(self.fault_rules, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    @property
    def faults(self) -> list[Fault]:
        """The pending faults, oldest first (a test may append one directly)."""
        return self.fault_book.pending

    def mount(self, routes: Sequence[BaseRoute]) -> None:
        """Build :attr:`app` from the simulator's public ``routes`` and the admin routes."""
        self.app = Starlette(routes=[*routes, *self.admin_routes(), *self.extra_admin_routes()])

    def counted(self, method: str, template: str, serve: Serve, *, key: str | None = None,
                paths: tuple[str, ...] = ()) -> list[Route]:
        """Routes for ``serve`` at ``template`` (and alias ``paths``), counted under ``key``.

        ``key`` defaults to ``"METHOD template"``, whichever alias was called.
        """
        stats_key = key or f"{method} {template}"

        async def counted_call(request: Request) -> Response:
            self.stats.call(stats_key)
            response = await serve(request)
            self.record_answer(stats_key, response)
            return response

        return [Route(path, counted_call, methods=[method]) for path in (template, *paths)]

    def record_answer(self, key: str, response: Response) -> None:
        """Count an answer of route ``key`` (a simulator may tally more than its status)."""
        self.stats.status(key, response.status_code)

    def accept_fault(self, fault: Fault) -> None:
        """Take a fault posted to ``/_sim/faults`` (a simulator may act on some at once)."""
        self.fault_book.add(fault)

    def stats_json(self) -> dict[str, Any]:
        return {**self.stats.as_json(), "faults": self.fault_book.as_json()}

    def faults_json(self) -> dict[str, Any]:
        pending = self.fault_book.as_json()
        return {"faults": pending if self.fault_listing == "list" else len(pending)}

    def extra_admin_routes(self) -> list[Route]:
        """The simulator's own ``/_sim`` routes; none by default."""
        return []

    def admin_routes(self) -> list[Route]:
        async def stats(request: Request) -> Response:
            return JSONResponse(self.stats_json())

        async def reset_stats(request: Request) -> Response:
            self.stats.reset()
            return JSONResponse({"ok": True})

        async def add_faults(request: Request) -> Response:
            try:
                faults = self.fault_book.parse(await request.json())
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            for fault in faults:
                self.accept_fault(fault)
            return JSONResponse(self.faults_json())

        async def clear_faults(request: Request) -> Response:
            self.fault_book.clear()
            return JSONResponse(self.faults_json())

        return [
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/stats/reset", reset_stats, methods=["POST"]),
            Route("/_sim/faults", add_faults, methods=["POST"]),
            Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        ]
