"""CSPM routes: login, alerts (list, get, dismiss, reopen, remediation), resources, RQL search.

Errors follow the reference (section 8.1): an empty body and the detail in ``x-redlock-status``
(``[{"i18nKey": ..., "severity": "error", "subject": ...}]``). Where the reference leaves the exact
i18nKey open (expired page token, unsupported RQL) the choice is marked [INFERRED].
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.prisma.simulator.catalog import POLICIES
from connectors.prisma.simulator.core import cspm_error
from connectors.prisma.simulator.payloads import project_alert, resource_meta, transition
from connectors.prisma.simulator.query import (
    ALLOWED_SORT,
    SUPPORTED_FILTERS,
    QueryError,
    decode_token,
    encode_token,
    match_filters,
    normalise_filters,
    parse_sort,
    resolve_time_range,
    sort_alerts,
    time_field,
)
from connectors.prisma.simulator.rql import RqlError, compile_rql

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["routes"]

_JSON = "application/json; charset=UTF-8"
_MAX_SNAPSHOTS = 256


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=_JSON)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise QueryError("body is not JSON", i18n_key="bad_request") from exc
    if not isinstance(value, dict):
        raise QueryError("body must be a JSON object", i18n_key="bad_request")
    return value


def routes(sim: PrismaCloudSimulator) -> list[Route]:
    """All CSPM routes bound to ``sim``."""
    cfg = sim.config

    def remember(items: list[Any], meta: dict[str, Any]) -> str:
        sid = secrets.token_hex(8)
        sim.snapshots[sid] = {"items": items, "created": sim.clock.now(), **meta}
        while len(sim.snapshots) > _MAX_SNAPSHOTS:
            sim.snapshots.popitem(last=False)
        return sid

    def recall(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        doc = decode_token(token, cfg.secret)
        snap = sim.snapshots.get(str(doc.get("snapshotId")))
        if snap is None or sim.clock.now() - snap["created"] > cfg.page_token_ttl_s:
            sim.snapshots.pop(str(doc.get("snapshotId")), None)
            raise QueryError("page token expired", subject="pageToken")  # [INFERRED] key
        return doc, snap

    def alert_page(query: dict[str, Any]) -> dict[str, Any]:
        if query.get("pageToken"):
            doc, snap = recall(str(query["pageToken"]))
        else:
            filters = normalise_filters(query.get("filters"))
            start, end = resolve_time_range(query.get("timeRange"), sim.clock.now_ms())
            field = time_field(filters)
            sort = parse_sort(query.get("sortBy"))
            limit = int(query.get("limit") or cfg.max_alert_limit)
            if not 1 <= limit <= cfg.max_alert_limit:
                raise QueryError(f"limit must be 1..{cfg.max_alert_limit}", subject="limit")
            matches = [a for a in sim.alerts.values()
                       if start <= a[field] <= end and match_filters(a, filters)]
            items = sort_alerts(matches, sort)
            doc = {"timeRangeType": None, "detailed": bool(query.get("detailed", False)),
                   "limit": limit, "sortBy": [f"{c}:{'desc' if d else 'asc'}" for c, d in sort],
                   "filters": filters, "fields": [], "offset": 0,
                   "timeRange": {"type": "absolute", "value": {"startTime": start, "endTime": end},
                                 "forField": field}}
            doc["snapshotId"] = remember(items, {})
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
                 "searchAfter": [last["alertTime"], int(last["id"][2:])]}, cfg.secret)
        return body

    async def login(request: Request, user: str) -> Response:
        body = await _body(request)
        username, password = body.get("username"), body.get("password")
        if not username or not password:
            return cspm_error(400, "missing_required_parameter", "username")
        if cfg.users.get(str(username)) != password:
            return cspm_error(401, "invalid_credentials")
        token = sim.tokens.issue(str(username), "cspm", sim.clock.now(), cfg.token_ttl_s)
        return _json({"token": token, "message": "login_successful", "customerNames": [
            {"customerName": "Acme (simulated)", "prismaId": "806775525911175168",
             "tosAccepted": True}]})

    async def extend(request: Request, user: str) -> Response:
        info = sim.tokens.lookup(request.headers.get("x-redlock-auth"), sim.clock.now(), ("cspm",))
        if info is None:
            return cspm_error(401, "token_expired")
        token = sim.tokens.issue(info.user, "cspm", sim.clock.now(), cfg.token_ttl_s)
        return _json({"token": token, "message": "login_successful", "customerNames": [
            {"customerName": "Acme (simulated)", "prismaId": "806775525911175168",
             "tosAccepted": True}], "roles": ["System Admin"]})

    async def list_post(request: Request, user: str) -> Response:
        return _json(alert_page(await _body(request)))

    async def list_get(request: Request, user: str) -> Response:
        q = request.query_params
        query: dict[str, Any] = {"pageToken": q.get("pageToken"), "limit": q.get("limit"),
                                 "detailed": q.get("detailed", "false").lower() == "true",
                                 "sortBy": q.getlist("sortBy") or None}
        if not query["pageToken"]:
            kind = q.get("timeType")
            if kind is None:
                raise QueryError("timeType is required", i18n_key="missing_required_parameter",
                                 subject="timeType")
            if kind == "relative":
                query["timeRange"] = {"type": kind, "value": {
                    "amount": q.get("timeAmount", "0"), "unit": q.get("timeUnit")}}
            elif kind == "absolute":
                query["timeRange"] = {"type": kind, "value": {
                    "startTime": q.get("startTime", "0"), "endTime": q.get("endTime")}}
            else:
                query["timeRange"] = {"type": kind, "value": q.get("timeUnit", "epoch")}
            query["filters"] = [{"name": k, "operator": "=", "value": v}
                                for k, v in q.multi_items() if k in SUPPORTED_FILTERS]
        return _json(alert_page(query))

    async def get_alert(request: Request, user: str) -> Response:
        alert = sim.alerts.get(request.path_params["id"])
        if alert is None:
            return cspm_error(404, "not_found", request.path_params["id"])
        detailed = request.query_params.get("detailed", "true").lower() != "false"
        return _json({**project_alert(alert, detailed=detailed), "alertRules": [
            {"policyScanConfigId": "bd4c60d0-ed86-4b3f-9074-a98d62a9e740",
             "name": "Default Alert Rule", "enabled": True, "scanAll": True,
             "target": {"accountGroups": list(alert["resource"]["cloudAccountGroups"]),
                        "excludedAccounts": [], "regions": [], "tags": []}}]})

    def select(body: dict[str, Any]) -> list[dict[str, Any]]:
        flt = body.get("filter")
        if not isinstance(flt, dict) or "timeRange" not in flt:
            raise QueryError("filter.timeRange is required", i18n_key="missing_required_parameter",
                             subject="filter")
        start, end = resolve_time_range(flt["timeRange"], sim.clock.now_ms())
        filters = normalise_filters(flt.get("filters"))
        ids, policies = body.get("alerts") or [], set(body.get("policies") or [])
        if not ids and not policies:
            raise QueryError("alerts or policies required", i18n_key="missing_required_parameter",
                             subject="alerts")
        chosen = [sim.alerts[i] for i in ids if i in sim.alerts]
        if policies:
            chosen += [a for a in sim.alerts.values() if a["policyId"] in policies
                       and start <= a["alertTime"] <= end and match_filters(a, filters)]
        return list({a["id"]: a for a in chosen}.values())

    async def dismiss(request: Request, user: str) -> Response:
        body = await _body(request)
        now_ms = sim.clock.now_ms()
        until = None
        if body.get("dismissalTimeRange") is not None:
            snooze = body["dismissalTimeRange"]
            if snooze.get("type") == "absolute":
                until = int(snooze["value"]["endTime"])
            else:
                start, _ = resolve_time_range(snooze, now_ms)
                until = now_ms + (now_ms - start)
            if until <= now_ms:
                raise QueryError("snooze must end in the future", subject="dismissalTimeRange")
        eligible = [a for a in select(body) if a["status"] in ("open", "snoozed")]
        if not eligible:
            return cspm_error(404, "alert_no_longer_in_expected_state")
        for alert in eligible:
            sim.update_alert(transition(alert, "snoozed" if until else "dismissed",
                                        "USER_DISMISSED", now_ms, by=user,
                                        note=str(body.get("dismissalNote") or ""), until_ms=until))
        return Response(b"", status_code=200)

    async def reopen(request: Request, user: str) -> Response:
        for alert in select(await _body(request)):
            if alert["status"] in ("dismissed", "snoozed"):
                sim.update_alert(transition(alert, "open", "USER_REOPENED", sim.clock.now_ms(),
                                            by=user))
        return Response(b"", status_code=200)

    def cli_for(alert: dict[str, Any]) -> str | None:
        template = POLICIES[alert["policyId"]].cli_template
        if template is None:
            return None
        res = alert["resource"]
        return (template.replace("${resourceName}", res["name"]).replace("${resourceId}", res["id"])
                .replace("${region}", res["regionId"]).replace("${account}", res["accountId"]))

    async def remediation_cli(request: Request, user: str) -> Response:
        alerts = select(await _body(request))
        if not alerts:
            return cspm_error(400, "bad_request", "alerts")
        if len({a["policyId"] for a in alerts}) > 1:
            return cspm_error(400, "cannot_remediate_multiple_policy_alerts")
        scripts = {a["id"]: cli_for(a) for a in alerts}
        if any(s is None for s in scripts.values()):
            return cspm_error(405, "remediation_unavailable")
        first = next(iter(scripts.values()))
        return _json({"alertIdVsCliScript": scripts, "cliScript": first,
                      "cliDescription": POLICIES[alerts[0]["policyId"]].cli_description})

    async def remediate(request: Request, user: str) -> Response:
        alert = sim.alerts.get(request.path_params["id"])
        if alert is None:
            return cspm_error(404, "not_found", request.path_params["id"])
        if cli_for(alert) is None:
            return cspm_error(405, "remediation_unavailable")
        if alert["status"] != "open":
            return cspm_error(400, "invalid_parameter_value", "status")
        sim.update_alert(transition(alert, "resolved", "REMEDIATED", sim.clock.now_ms(), by=user))
        return Response(b"", status_code=200)

    async def count(request: Request, user: str) -> Response:
        status = request.path_params["status"]
        return _json({"count": sum(1 for a in sim.alerts.values() if a["status"] == status)})

    async def resource(request: Request, user: str) -> Response:
        body = await _body(request)
        rrn = body.get("rrn")
        if not rrn:
            return cspm_error(400, "missing_required_parameter", "rrn")
        res = sim.estate.resources.get(str(rrn))
        if res is None:
            return cspm_error(404, "not_found", "rrn")
        return _json(resource_meta(res))

    def search_page(items: list[dict[str, Any]], offset: int, limit: int, sid: str,
                    with_json: bool) -> dict[str, Any]:
        page: dict[str, Any] = {
            "totalRows": len(items), "dynamicColumns": [],
            "items": [resource_meta(r, with_json=with_json) for r in items[offset:offset + limit]]}
        if offset + limit < len(items):
            page["nextPageToken"] = encode_token(
                {"snapshotId": sid, "offset": offset + limit, "limit": limit}, cfg.secret)
        return page

    async def search_config(request: Request, user: str) -> Response:
        body = await _body(request)
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
        sid = remember(items, {"with_json": body.get("withResourceJson", True) is not False})
        clouds = {r["cloudType"] for r in items}
        out = {"id": str(uuid.UUID(sid * 2)), "name": "", "searchType": "config", "query": query,
               "saved": False, "timeRange": time_range, "async": False,
               "data": search_page(items, 0, limit, sid, sim.snapshots[sid]["with_json"])}
        if len(clouds) == 1:
            out["cloudType"] = clouds.pop()
        return _json(out)

    async def search_config_page(request: Request, user: str) -> Response:
        body = await _body(request)
        if not body.get("pageToken"):
            return cspm_error(400, "missing_required_parameter", "pageToken")
        doc, snap = recall(str(body["pageToken"]))
        limit = int(body.get("limit") or doc["limit"])
        with_json = body.get("withResourceJson", snap["with_json"]) is not False
        return _json(search_page(snap["items"], int(doc["offset"]), limit, doc["snapshotId"],
                                 with_json))

    def guarded(handler: Any) -> Any:
        async def run(request: Request, user: str) -> Response:
            try:
                response: Response = await handler(request, user)
                return response
            except QueryError as exc:
                return cspm_error(400, exc.i18n_key, exc.subject)
        return run

    table = [
        ("POST", "/login", login, None, None),
        ("GET", "/auth_token/extend", extend, None, None),
        ("POST", "/v2/alert", list_post, "cspm", cfg.alert_list_rate),
        ("GET", "/v2/alert", list_get, "cspm", cfg.alert_list_rate),
        ("GET", "/alert/count/{status}", count, "cspm", None),
        ("POST", "/alert/dismiss", dismiss, "cspm", None),
        ("POST", "/alert/reopen", reopen, "cspm", None),
        ("POST", "/alert/remediation", remediation_cli, "cspm", None),
        ("PATCH", "/alert/remediation/{id}", remediate, "cspm", None),
        ("GET", "/alert/{id}", get_alert, "cspm", cfg.alert_get_rate),
        ("POST", "/resource", resource, "cspm", None),
        ("POST", "/search/config", search_config, "cspm", None),
        ("POST", "/search/config/page", search_config_page, "cspm", None),
    ]
    out: list[Route] = []
    for method, path, handler, auth, rate in table:
        out.extend(sim.endpoint(method, path, guarded(handler), auth=auth, rate=rate))
    return out
