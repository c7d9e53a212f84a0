"""The Table API handlers: list (encoded query, paging links), get, create, update, delete.

Records are rendered as the instance renders them: ``sysparm_fields`` picks fields,
``sysparm_display_value`` shows choice labels and reference names, references carry a ``link``
unless ``sysparm_exclude_reference_link``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.servicenow.simulator.config import failure
from connectors.servicenow.simulator.store import TABLES, PolicyViolation, parse_query

if TYPE_CHECKING:
    from connectors.servicenow.simulator.app import ServiceNowSimulator

__all__ = ["create", "delete", "get", "list_records", "update"]

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


def _reference(sim: ServiceNowSimulator, name: str, value: str, shown: str,
               display: str) -> dict[str, str]:
    """A reference field rendered with its link (and display name when asked for)."""
    target = _REF_TABLE.get(name, "sys_user")
    link = f"{sim.config.instance_url}/api/now/table/{target}/{value}"
    if display == "false":
        return {"link": link, "value": value}
    out = {"link": link, "display_value": shown}
    if display == "all":
        out["value"] = value
    return out


def _render(sim: ServiceNowSimulator, request: Request, table: str,
            record: dict[str, str]) -> dict[str, Any]:
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
            if display != "false":
                target = _REF_TABLE.get(name, "sys_user")
                shown = sim.store.tables[target].get(value, {}).get("name", value)
            if not no_links:
                out[name] = _reference(sim, name, value, shown, display)
                continue
        out[name] = {"display_value": shown, "value": value} if display == "all" else shown
    return out


def _links(sim: ServiceNowSimulator, request: Request, offset: int, limit: int, total: int) -> str:
    base = f"{sim.config.instance_url}{request.url.path}"
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


def _selected(sim: ServiceNowSimulator, table: str, params: Any) -> list[dict[str, str]]:
    """The rows the encoded query (or ``name=value`` pairs) selects, in its ``ORDERBY``."""
    text = params.get("sysparm_query", "")
    if not text:  # name=value pairs are the alternative form
        text = "^".join(f"{k}={v}" for k, v in params.items() if not k.startswith("sysparm_"))
    query = parse_query(text, TABLES[table].fields)
    rows = list(sim.store.tables[table].values())
    if query.invalid and sim.config.invalid_query_returns_no_rows:
        rows = []
    rows = [r for r in rows if query.matches(r)]
    for name, desc in reversed(query.order):
        indexed = list(enumerate(rows))
        indexed.sort(key=lambda pair: (pair[1].get(name, ""), pair[0]), reverse=desc)
        rows = [r for _, r in indexed]
    return rows


async def list_records(sim: ServiceNowSimulator, request: Request, user: str) -> Response:
    table, params = request.path_params["table"], request.query_params
    try:
        limit = int(params.get("sysparm_limit", "10000"))
        offset = int(params.get("sysparm_offset", "0"))
    except ValueError:
        return failure(400, "Invalid parameter", "sysparm_limit/offset must be integers")
    if offset < 0 or limit < 0:
        return failure(400, "Invalid parameter", "sysparm_offset must not be negative")
    rows = _selected(sim, table, params)
    headers = {"X-Total-Count": str(len(rows))}
    if params.get("sysparm_suppress_pagination_header", "false") != "true" and limit:
        headers["Link"] = _links(sim, request, offset, limit, len(rows))
    return JSONResponse({"result": [_render(sim, request, table, r)
                                    for r in rows[offset:offset + limit]]}, headers=headers)


async def _body(request: Request) -> dict[str, Any] | Response:
    try:
        body = await request.json()
    except ValueError:
        return failure(400, "Exception while reading request", "The payload is not valid JSON.")
    if isinstance(body, list):  # one record per request: extras are ignored
        body = body[0] if body else {}
    if not isinstance(body, dict):
        return failure(400, "Exception while reading request", "Expected a JSON object.")
    return body


def _missing() -> Response:
    return failure(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


async def create(sim: ServiceNowSimulator, request: Request, user: str) -> Response:
    table = request.path_params["table"]
    body = await _body(request)
    if isinstance(body, Response):
        return body
    try:
        record = sim.store.insert(table, body, user)
    except PolicyViolation as exc:
        return failure(exc.status, exc.message, exc.detail)
    headers = {"Location": f"{sim.config.instance_url}/api/now/table/{table}/{record['sys_id']}"}
    return JSONResponse({"result": _render(sim, request, table, record)}, status_code=201,
                        headers=headers)


async def get(sim: ServiceNowSimulator, request: Request, user: str) -> Response:
    table, sys_id = request.path_params["table"], request.path_params["sys_id"]
    record = sim.store.tables[table].get(sys_id)
    if record is None:
        return _missing()
    return JSONResponse({"result": _render(sim, request, table, record)})


async def update(sim: ServiceNowSimulator, request: Request, user: str) -> Response:
    table, sys_id = request.path_params["table"], request.path_params["sys_id"]
    if sys_id not in sim.store.tables[table]:
        return _missing()
    body = await _body(request)
    if isinstance(body, Response):
        return body
    try:
        record = sim.store.update(table, sys_id, body, user)
    except PolicyViolation as exc:
        return failure(exc.status, exc.message, exc.detail)
    if request.headers.get("x-no-response-body", "").lower() == "true":
        return Response(status_code=200)
    return JSONResponse({"result": _render(sim, request, table, record)})


async def delete(sim: ServiceNowSimulator, request: Request, user: str) -> Response:
    table, sys_id = request.path_params["table"], request.path_params["sys_id"]
    if sim.store.tables[table].pop(sys_id, None) is None:
        return _missing()
    return Response(status_code=204)
