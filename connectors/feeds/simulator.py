"""A local stand-in for the two feed hosts (cisa.gov's KEV file, FIRST EPSS's daily files), for tests.

:class:`FeedSimulator` is one Starlette ASGI app that answers on the real paths, whatever the host
(use it with ``httpx.ASGITransport`` or serve it with ``streams.embedded.ServedApp``):

* ``GET /sites/default/files/feeds/known_exploited_vulnerabilities.json``: the KEV JSON;
* ``GET /epss_scores-current.csv.gz``: ``302`` to ``/epss_scores-<score date>.csv.gz``, as
  epss.empiricalsecurity.com does;
* ``GET /epss_scores-YYYY-MM-DD.csv.gz``: the EPSS file of that date, ``404`` for another date.

It serves whatever bytes it was given (:meth:`FeedSimulator.from_snapshot` takes the shipped
snapshot, the real files), so a test can serve a corrupted copy; ``fail_status`` answers every
request with that status instead. ``requests`` counts requests per path. Like every simulator it
is a :class:`connectors.simkit.Simulator`: ``/_sim/stats`` counts calls per route and
``/_sim/faults`` takes ``{"kind": "5xx", "status": 503, "route": "/epss_scores-{day}.csv.gz"}``.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from connectors.feeds.store import SHIPPED_FEEDS_DIR, newest_snapshot
from connectors.simkit import FaultRules, Serve, Simulator, retry_after_header

__all__ = ["EPSS_CURRENT_PATH", "KEV_PATH", "FeedSimulator"]

KEV_PATH = "/sites/default/files/feeds/known_exploited_vulnerabilities.json"
EPSS_CURRENT_PATH = "/epss_scores-current.csv.gz"


class FeedSimulator(Simulator):
    """Serves one KEV document and one EPSS file (see module doc)."""

    fault_rules = FaultRules(kinds=frozenset({"5xx"}),
                             fields=("kind", "route", "count", "status", "retry_after_s"))

    def __init__(self, kev: bytes, epss: bytes, epss_date: str, *, fail_status: int | None = None) -> None:
        super().__init__(time.time)
        self.kev, self.epss, self.epss_date = kev, epss, epss_date
        self.fail_status = fail_status
        self.requests: Counter[str] = Counter()
        self.mount([*self._route(KEV_PATH, self._kev),
                    *self._route(EPSS_CURRENT_PATH, self._epss_current),
                    *self._route("/epss_scores-{day}.csv.gz", self._epss_dated)])

    def _route(self, template: str, serve: Serve) -> list[Route]:
        async def guarded(request: Request) -> Response:
            fault = self.fault_book.take("GET", template, request.url.path)
            if fault is not None:
                return Response(status_code=fault.status, headers=retry_after_header(fault))
            return await serve(request)

        return self.counted("GET", template, guarded)

    @classmethod
    def from_snapshot(cls, directory: Path = SHIPPED_FEEDS_DIR) -> FeedSimulator:
        """A simulator serving the newest KEV and EPSS files of ``directory`` (the real files by default)."""
        files = newest_snapshot(directory)
        day = files.epss.name.removeprefix("epss-").removesuffix(".csv.gz")
        return cls(files.kev.read_bytes(), files.epss.read_bytes(), day)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests[scope["path"]] += 1
            if self.fail_status is not None:
                await Response(status_code=self.fail_status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _kev(self, request: Request) -> Response:
        return Response(self.kev, media_type="application/json")

    async def _epss_current(self, request: Request) -> Response:
        return RedirectResponse(f"/epss_scores-{self.epss_date}.csv.gz", status_code=302)

    async def _epss_dated(self, request: Request) -> Response:
        if request.path_params["day"] != self.epss_date:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return Response(self.epss, media_type="application/gzip")
