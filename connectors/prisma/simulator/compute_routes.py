"""Compute (CWPP) routes under ``/api/v1`` and ``/api/v34.03``.

Listings take ``limit`` (default ``compute_page_default``, at most ``compute_page_max``; more is a
400 [INFERRED]) and ``offset``, answer a bare JSON array and put the match count in
``Total-Count`` (reference 6.2). Audits and incidents are sorted by ``time`` ascending unless
``reverse=true``, so appending new events does not shift earlier offsets. Scan endpoints share the
documented 30-requests-per-30-seconds limit per user.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.prisma.simulator.answers import Handler, compute_error

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["routes"]

_VERSIONS = ("v1", "v34.03")
_AUDIT_KEYS = {"hostname": "hostname", "type": "type", "attackType": "attackType", "id": "_id",
               "containerID": "containerId", "cluster": "cluster"}
_INCIDENT_KEYS = {"hostname": "hostname", "category": "category", "id": "_id",
                  "containerID": "containerID", "cluster": "cluster"}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _page(sim: PrismaCloudSimulator, request: Request, items: list[dict[str, Any]]) -> Response:
    """One ``limit``/``offset`` page as a bare array, the match count in ``Total-Count``."""
    cfg, q = sim.config, request.query_params
    try:
        limit = int(q.get("limit", cfg.compute_page_default))
        offset = int(q.get("offset", 0))
    except ValueError:
        return compute_error(400, "limit and offset must be integers")
    if not 0 < limit <= cfg.compute_page_max or offset < 0:
        return compute_error(400, f"limit must be between 1 and {cfg.compute_page_max}")
    body = json.dumps(items[offset:offset + limit])
    return Response(body, media_type="application/json", headers={"Total-Count": str(len(items))})


def _filtered(request: Request, items: list[dict[str, Any]], keys: dict[str, str],
              timed: bool) -> list[dict[str, Any]]:
    """``items`` narrowed by the query's comma-separated ``keys`` (and ``from``/``to``/``reverse``)."""
    q = request.query_params
    out = items
    for param, key in keys.items():
        if param in q:
            wanted = set(q.get(param, "").split(","))
            out = [i for i in out if str(i.get(key, "")) in wanted]
    if timed:
        if "from" in q:
            start = _when(q["from"])
            out = [i for i in out if _when(i["time"]) >= start]
        if "to" in q:
            end = _when(q["to"])
            out = [i for i in out if _when(i["time"]) <= end]
        if q.get("reverse", "false").lower() == "true":
            out = list(reversed(out))
    return out


async def authenticate(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return compute_error(400, "invalid request body")
    name, password = body.get("username"), body.get("password")
    if body.get("token"):
        info = sim.tokens.lookup(str(body["token"]), sim.clock.now(), ("cspm",))
        name = info.user if info else None
    elif not name or sim.config.users.get(str(name)) != password:
        name = None
    if name is None:
        return compute_error(401, "invalid credentials")
    token = sim.tokens.issue(str(name), "compute", sim.clock.now(), sim.config.compute_token_ttl_s)
    return JSONResponse({"token": token})


async def renew(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    token = sim.tokens.issue(user, "compute", sim.clock.now(), sim.config.compute_token_ttl_s)
    return JSONResponse({"token": token})


def _audits(kind: str) -> Handler:
    async def handler(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
        return _page(sim, request, _filtered(request, sim.estate.compute.audits[kind], _AUDIT_KEYS, True))
    return handler


async def incidents(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    ack = request.query_params.get("acknowledged", "false").lower() == "true"
    items = [i for i in sim.estate.compute.incidents if i["acknowledged"] is ack]
    return _page(sim, request, _filtered(request, items, _INCIDENT_KEYS, True))


async def acknowledge(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = json.loads(await request.body() or b"{}")
    found = sim.estate.compute.incidents
    for i, incident in enumerate(found):
        if incident["_id"] == request.path_params["id"]:
            found[i] = {**incident, "acknowledged": bool(body.get("acknowledged", True))}
            return Response(b"", status_code=200)
    return compute_error(404, "incident not found")


def _scans(items_of: str, keys: dict[str, str]) -> Handler:
    async def handler(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
        items: list[dict[str, Any]] = getattr(sim.estate.compute, items_of)
        return _page(sim, request, _filtered(request, items, keys, False))
    return handler


_TABLE: list[tuple[str, str, Handler, str | None, bool]] = [
    ("POST", "/authenticate", authenticate, None, False),
    ("GET", "/authenticate/renew", renew, "compute", False),
    ("GET", "/audits/runtime/container", _audits("container"), "compute", False),
    ("GET", "/audits/runtime/host", _audits("host"), "compute", False),
    ("GET", "/audits/incidents", incidents, "compute", False),
    ("PATCH", "/audits/incidents/acknowledge/{id}", acknowledge, "compute", False),
    ("GET", "/images", _scans("images", {"id": "_id", "hostname": "hostname"}), "compute", True),
    ("GET", "/hosts", _scans("hosts", {"hostname": "hostname", "id": "_id"}), "compute", True),
    ("GET", "/containers", _scans("containers", {"hostname": "hostname", "id": "_id"}), "compute", True),
]


def routes(sim: PrismaCloudSimulator) -> list[Route]:
    """All Compute routes bound to ``sim``."""
    out: list[Route] = []
    for method, path, handler, auth, limited in _TABLE:
        out.extend(sim.endpoint(
            method, f"/api/v1{path}", handler, auth=auth,
            rate=sim.config.compute_scan_rate if limited else None,
            paths=tuple(f"/api/{v}{path}" for v in _VERSIONS[1:])))
    return out
