"""CSPM resources and RQL config search: ``/resource``, ``/search/config`` and its pages."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.prisma.simulator.answers import cspm_error, json_answer, read_body
from connectors.prisma.simulator.payloads import resource_meta
from connectors.prisma.simulator.query import encode_token, resolve_time_range
from connectors.prisma.simulator.rql import RqlError, compile_rql
from connectors.prisma.simulator.snapshots import recall, remember

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["resource", "search_config", "search_config_page"]


async def resource(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = await read_body(request)
    rrn = body.get("rrn")
    if not rrn:
        return cspm_error(400, "missing_required_parameter", "rrn")
    res = sim.estate.resources.get(str(rrn))
    if res is None:
        return cspm_error(404, "not_found", "rrn")
    return json_answer(resource_meta(res))


def _search_page(sim: PrismaCloudSimulator, items: list[dict[str, Any]], offset: int, limit: int,
                 sid: str, with_json: bool) -> dict[str, Any]:
    page: dict[str, Any] = {
        "totalRows": len(items), "dynamicColumns": [],
        "items": [resource_meta(r, with_json=with_json) for r in items[offset:offset + limit]]}
    if offset + limit < len(items):
        page["nextPageToken"] = encode_token(
            {"snapshotId": sid, "offset": offset + limit, "limit": limit}, sim.config.secret)
    return page


async def search_config(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = await read_body(request)
    query = body.get("query")
    if not query:
        return cspm_error(400, "missing_required_parameter", "query")
    time_range = body.get("timeRange") or {"type": "to_now", "value": "epoch"}
    resolve_time_range(time_range, sim.clock.now_ms())
    try:
        predicate = compile_rql(str(query))
    except RqlError as exc:
        return cspm_error(400, "invalid_rql_query", str(exc))  # [INFERRED] key
    limit = int(body.get("limit") or 100)
    items = sorted((r for r in sim.estate.resources.values() if predicate(r)),
                   key=lambda r: (-r["insertTs"], r["rrn"]))
    sid = remember(sim, items, {"with_json": body.get("withResourceJson", True) is not False})
    clouds = {r["cloudType"] for r in items}
    out = {"id": str(uuid.UUID(sid * 2)), "name": "", "searchType": "config", "query": query,
           "saved": False, "timeRange": time_range, "async": False,
           "data": _search_page(sim, items, 0, limit, sid, sim.snapshots[sid]["with_json"])}
    if len(clouds) == 1:
        out["cloudType"] = clouds.pop()
    return json_answer(out)


async def search_config_page(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = await read_body(request)
    if not body.get("pageToken"):
        return cspm_error(400, "missing_required_parameter", "pageToken")
    doc, snap = recall(sim, str(body["pageToken"]))
    limit = int(body.get("limit") or doc["limit"])
    with_json = body.get("withResourceJson", snap["with_json"]) is not False
    return json_answer(_search_page(sim, snap["items"], int(doc["offset"]), limit, doc["snapshotId"],
                                    with_json))
