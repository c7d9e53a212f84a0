"""Issue routes: create, get, edit (``/issue``, ``/issue/{key}``) and ``/myself``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.jira.simulator.fields import check_fields, check_property
from connectors.jira.simulator.handling import Ctx, issue_or_404, read_body
from connectors.jira.simulator.validation import jira_error

if TYPE_CHECKING:
    from connectors.jira.simulator.core import JiraSimulator

__all__ = ["create_issue", "edit_issue", "get_issue", "myself"]


async def myself(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    return JSONResponse({"accountId": ctx.user, "emailAddress": ctx.user, "name": ctx.user,
                         "displayName": ctx.user, "active": True})


async def create_issue(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    body = await read_body(request)
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        return jira_error(400, ["Issue must have 'fields'."])
    checked = check_fields(sim.config, fields, ctx.version, creating=True)
    props = body.get("properties") or []
    for prop in props:
        check_property(str(prop.get("key", "")), prop.get("value"))
    project = checked.pop("project")
    issue = sim.store.add(project, checked, sim.clock.now())
    for prop in props:
        issue.properties[str(prop["key"])] = prop["value"]
    return JSONResponse({"id": str(issue.id), "key": issue.key,
                         "self": f"{sim.config.base_url}/rest/api/{ctx.version}/issue/{issue.id}"},
                        status_code=201)


async def get_issue(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    raw = request.query_params.get("fields")
    props = [p for p in request.query_params.get("properties", "").split(",") if p]
    return JSONResponse(sim.store.bean(issue, ctx.version, raw.split(",") if raw else None, props))


async def edit_issue(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    body = await read_body(request)
    fields = body.get("fields") or {}
    update = body.get("update") or {}
    both = set(fields) & set(update)
    if both:
        return jira_error(400, [], {f: "Field cannot be in both 'fields' and 'update'."
                                    for f in both})
    checked = check_fields(sim.config, fields, ctx.version, creating=False)
    checked.pop("project", None)
    labels = list(checked.pop("labels", issue.fields.get("labels", [])))
    for op in update.get("labels", []):
        if "add" in op and op["add"] not in labels:
            labels.extend(check_fields(sim.config, {"labels": [op["add"]]}, ctx.version, False)["labels"])
        elif "remove" in op and op["remove"] in labels:
            labels.remove(op["remove"])
        elif "set" in op:
            labels = list(check_fields(sim.config, {"labels": op["set"]}, ctx.version, False)["labels"])
    issue.fields.update(checked)
    issue.fields["labels"] = labels
    issue.updated = sim.clock.now()
    return Response(status_code=204)
