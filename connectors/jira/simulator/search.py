"""JQL search routes: ``/search/jql`` (token paging), ``/search/approximate-count``, legacy ``/search``.

On Cloud the legacy ``/search`` answers 410 (``legacy_search_status``); on Data Center it pages by
``startAt``. A query without a restriction is refused, as Jira Cloud refuses unbounded JQL.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.jira.simulator.handling import Ctx, Invalid, read_body
from connectors.jira.simulator.jql import JqlError, parse
from connectors.jira.simulator.store import Issue
from connectors.jira.simulator.validation import jira_error

if TYPE_CHECKING:
    from connectors.jira.simulator.core import JiraSimulator

__all__ = ["approximate_count", "legacy_search", "search_jql"]

REMOVED = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
           "A full migration guideline is available at "
           "https://developer.atlassian.com/changelog/#CHANGE-2046")
UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction to your "
             "query.")


async def _search_args(request: Request) -> dict[str, Any]:
    """The search parameters: the JSON body of a POST, the query string of a GET."""
    if request.method == "POST":
        body = await read_body(request)
        return body if isinstance(body, dict) else {}
    q = request.query_params
    args: dict[str, Any] = {k: q[k] for k in q}
    for name in ("fields", "properties"):
        if name in q:
            args[name] = [x for x in q[name].split(",") if x]
    return args


def _sort_key(name: str) -> Any:
    key = name.lower()
    if key in ("created", "key", "id"):
        return lambda i: (i.created, i.id)
    if key == "updated":
        return lambda i: (i.updated, i.id)
    return lambda i: (str(i.fields.get(key)), i.id)


def _run_jql(sim: JiraSimulator, jql: str) -> list[Issue]:
    """The issues ``jql`` selects, in its ``ORDER BY`` (``created`` by default); 400 when invalid."""
    try:
        query = parse(jql)
        if query.where is None:
            raise JqlError(UNBOUNDED)

        def resolve(issue: Any, name: str) -> list[str]:
            try:
                return sim.store.jql_values(issue, name, sim.config.indexed_properties)
            except KeyError:
                raise JqlError(f"Field '{name}' does not exist or you do not have permission "
                               "to view it.") from None

        found = [i for i in sim.store.issues.values() if query.matches(i, resolve)]
    except JqlError as exc:
        raise Invalid(jira_error(400, [str(exc)])) from None
    for name, descending in reversed(query.order_by or [("created", False)]):
        found.sort(key=_sort_key(name), reverse=descending)
    return found


def _page_size(sim: JiraSimulator, args: dict[str, Any], fields: list[str]) -> int:
    cfg = sim.config
    cap = cfg.id_only_max_results if set(fields) <= {"id", "key"} else cfg.max_results_cap
    return max(1, min(int(args.get("maxResults", 50)), cap))


def _page_offset(args: dict[str, Any], digest: str) -> int:
    """Where ``nextPageToken`` says the page starts; 400 for a token of another query or garbage."""
    if not args.get("nextPageToken"):
        return 0
    try:
        raw = json.loads(base64.urlsafe_b64decode(str(args["nextPageToken"]).encode()))
        offset, ok = int(raw["o"]), raw["q"] == digest
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise Invalid(jira_error(400, ["The provided next page token is invalid or expired."]))
    return offset


async def search_jql(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    args = await _search_args(request)
    jql = str(args.get("jql") or "")
    if not jql.strip():
        return jira_error(400, [UNBOUNDED])
    found = _run_jql(sim, jql)
    fields = list(args.get("fields") or ["id"])
    size = _page_size(sim, args, fields)
    digest = hashlib.sha1(jql.encode()).hexdigest()[:10]
    offset = _page_offset(args, digest)
    props = list(args.get("properties") or [])[:5]
    page = found[offset:offset + size]
    body: dict[str, Any] = {"issues": [sim.store.bean(i, ctx.version, fields, props) for i in page],
                            "isLast": offset + size >= len(found)}
    if not body["isLast"]:
        token = json.dumps({"o": offset + size, "q": digest}).encode()
        body["nextPageToken"] = base64.urlsafe_b64encode(token).decode()
    return JSONResponse(body)


async def approximate_count(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    args = await _search_args(request)
    return JSONResponse({"count": len(_run_jql(sim, str(args.get("jql") or "")))})


async def legacy_search(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    cfg = sim.config
    if cfg.flavour == "cloud" and cfg.legacy_search_status != 200:
        return jira_error(cfg.legacy_search_status, [REMOVED])
    args = await _search_args(request)
    jql = str(args.get("jql") or "")
    found = _run_jql(sim, jql) if jql.strip() else list(sim.store.issues.values())
    start = int(args.get("startAt", 0))
    size = max(1, min(int(args.get("maxResults", 50)), cfg.max_results_cap))
    fields = args.get("fields") or ["*navigable"]
    props = list(args.get("properties") or [])
    return JSONResponse({"startAt": start, "maxResults": size, "total": len(found),
                         "issues": [sim.store.bean(i, ctx.version, fields, props)
                                    for i in found[start:start + size]]})
