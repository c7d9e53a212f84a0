"""Comment, transition and changelog routes: ``/issue/{key}/comment``, ``/issue/{key}/transitions``
and ``/issue/{key}/changelog``.

Comments and transitions change an issue's history; a transition may carry a resolution and
comments to add, and is recorded in the changelog with the user who made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.jira.simulator.handling import Ctx, issue_or_404, read_body, rich_problem
from connectors.jira.simulator.validation import jira_error

if TYPE_CHECKING:
    from connectors.jira.simulator.core import JiraSimulator

__all__ = ["add_comment", "do_transition", "get_changelog", "get_transitions", "list_comments"]


async def add_comment(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    body = await read_body(request)
    value = body.get("body") if isinstance(body, dict) else None
    problem = "Comment body can not be empty!" if value is None else rich_problem(value, ctx.version)
    if problem:
        return jira_error(400, [], {"comment": problem})
    comment = sim.store.add_comment(issue, value, ctx.user, sim.clock.now())
    return JSONResponse(comment, status_code=201)


async def list_comments(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    start = int(request.query_params.get("startAt", "0"))
    size = min(int(request.query_params.get("maxResults", "50")), 100)
    page = issue.comments[start:start + size]
    return JSONResponse({"startAt": start, "maxResults": size, "total": len(issue.comments),
                         "comments": page})


async def get_transitions(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    available = sim.store.workflow.available(issue.status)
    return JSONResponse({"transitions": [sim.store.transition_json(t) for t in available]})


async def do_transition(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    body = await read_body(request)
    wanted = str((body.get("transition") or {}).get("id", ""))
    if not wanted:
        return jira_error(400, ["Missing 'transition' identifier"])
    chosen = next((t for t in sim.store.workflow.available(issue.status) if t.id == wanted), None)
    if chosen is None:
        return jira_error(400, [f"Transition id '{wanted}' is not valid for this issue."])
    fields = body.get("fields") or {}
    unknown = set(fields) - {"resolution"}
    if unknown:
        return jira_error(400, [], {f: f"Field '{f}' cannot be set. It is not on the "
                                       "appropriate screen, or unknown." for f in unknown})
    comments = [op["add"]["body"] for op in (body.get("update") or {}).get("comment", [])
                if "add" in op]
    for value in comments:
        problem = rich_problem(value, ctx.version)
        if problem:
            return jira_error(400, [], {"comment": problem})
    resolution = (fields.get("resolution") or {}).get("name")
    sim.store.transition(issue, chosen, sim.clock.now(), resolution, author=ctx.user)
    for value in comments:
        sim.store.add_comment(issue, value, ctx.user, sim.clock.now())
    return Response(status_code=204)


async def get_changelog(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    """``GET /issue/{key}/changelog``: a ``PageBeanChangelog``, oldest first, paged by ``startAt``."""
    issue = issue_or_404(sim, request.path_params["key"])
    start = int(request.query_params.get("startAt", "0"))
    size = min(int(request.query_params.get("maxResults", "100")), 100)
    page = issue.changelog[start:start + size]
    return JSONResponse({"self": f"{sim.config.base_url}/rest/api/{ctx.version}/issue/{issue.key}/changelog",
                         "startAt": start, "maxResults": size, "total": len(issue.changelog),
                         "isLast": start + len(page) >= len(issue.changelog), "values": page})
