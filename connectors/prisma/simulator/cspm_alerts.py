"""CSPM alert reads: ``/v2/alert`` (POST and GET, snapshot paging), ``/alert/{id}``, counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.prisma.simulator.answers import cspm_error, json_answer, read_body
from connectors.prisma.simulator.payloads import project_alert
from connectors.prisma.simulator.query import (
    ALLOWED_SORT,
    SUPPORTED_FILTERS,
    QueryError,
    encode_token,
    match_filters,
    normalise_filters,
    parse_sort,
    resolve_time_range,
    sort_alerts,
    time_field,
)
from connectors.prisma.simulator.snapshots import recall, remember

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["count", "get_alert", "list_get", "list_post"]


def _first_page_doc(sim: PrismaCloudSimulator, query: dict[str, Any]) -> dict[str, Any]:
    """Run a new alert query; its matches become a snapshot, the document the page token's start."""
    cfg = sim.config
    filters = normalise_filters(query.get("filters"))
    start, end = resolve_time_range(query.get("timeRange"), sim.clock.now_ms())
    field = time_field(filters)
    sort = parse_sort(query.get("sortBy"))
    limit = int(query.get("limit") or cfg.max_alert_limit)
    if not 1 <= limit <= cfg.max_alert_limit:
        raise QueryError(f"limit must be 1..{cfg.max_alert_limit}", subject="limit")
    matches = [a for a in sim.alerts.values() if start <= a[field] <= end and match_filters(a, filters)]
    doc: dict[str, Any] = {
        "timeRangeType": None, "detailed": bool(query.get("detailed", False)), "limit": limit,
        "sortBy": [f"{c}:{'desc' if d else 'asc'}" for c, d in sort], "filters": filters,
        "fields": [], "offset": 0,
        "timeRange": {"type": "absolute", "value": {"startTime": start, "endTime": end},
                      "forField": field}}
    doc["snapshotId"] = remember(sim, sort_alerts(matches, sort), {})
    return doc


def alert_page(sim: PrismaCloudSimulator, query: dict[str, Any]) -> dict[str, Any]:
    """One page of an alert listing: a new query, or the page a ``pageToken`` points at."""
    if query.get("pageToken"):
        doc, snap = recall(sim, str(query["pageToken"]))
    else:
        doc = _first_page_doc(sim, query)
        snap = sim.snapshots[doc["snapshotId"]]
    items, offset, limit = snap["items"], int(doc["offset"]), int(doc["limit"])
    page = items[offset:offset + limit]
    body: dict[str, Any] = {
        "totalRows": len(items),
        "items": [project_alert(a, detailed=doc["detailed"]) for a in page],
        "sortAllowedColumns": list(ALLOWED_SORT),
    }
    if offset + limit < len(items):
        last = page[-1]
        body["nextPageToken"] = encode_token(
            {**doc, "offset": offset + limit,
             "searchAfter": [last["alertTime"], int(last["id"][2:])]}, sim.config.secret)
    return body


async def list_post(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    return json_answer(alert_page(sim, await read_body(request)))


def _time_range(kind: str, q: Any) -> dict[str, Any]:
    """The ``timeRange`` object the GET form's ``timeType``/``time*`` parameters stand for."""
    if kind == "relative":
        return {"type": kind, "value": {"amount": q.get("timeAmount", "0"), "unit": q.get("timeUnit")}}
    if kind == "absolute":
        return {"type": kind, "value": {"startTime": q.get("startTime", "0"), "endTime": q.get("endTime")}}
    return {"type": kind, "value": q.get("timeUnit", "epoch")}


async def list_get(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    q = request.query_params
    query: dict[str, Any] = {"pageToken": q.get("pageToken"), "limit": q.get("limit"),
                             "detailed": q.get("detailed", "false").lower() == "true",
                             "sortBy": q.getlist("sortBy") or None}
    if not query["pageToken"]:
        kind = q.get("timeType")
        if kind is None:
            raise QueryError("timeType is required", i18n_key="missing_required_parameter",
                             subject="timeType")
        query["timeRange"] = _time_range(kind, q)
        query["filters"] = [{"name": k, "operator": "=", "value": v}
                            for k, v in q.multi_items() if k in SUPPORTED_FILTERS]
    return json_answer(alert_page(sim, query))


async def get_alert(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    alert = sim.alerts.get(request.path_params["id"])
    if alert is None:
        return cspm_error(404, "not_found", request.path_params["id"])
    detailed = request.query_params.get("detailed", "true").lower() != "false"
    return json_answer({**project_alert(alert, detailed=detailed), "alertRules": [
        {"policyScanConfigId": "bd4c60d0-ed86-4b3f-9074-a98d62a9e740",
         "name": "Default Alert Rule", "enabled": True, "scanAll": True,
         "target": {"accountGroups": list(alert["resource"]["cloudAccountGroups"]),
                    "excludedAccounts": [], "regions": [], "tags": []}}]})


async def count(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    status = request.path_params["status"]
    return json_answer({"count": sum(1 for a in sim.alerts.values() if a["status"] == status)})
