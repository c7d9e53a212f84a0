"""Issue entity property routes (``/issue/{key}/properties[/{prop}]``): list, put, get, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.jira.simulator.fields import check_property
from connectors.jira.simulator.handling import Ctx, issue_or_404, read_body
from connectors.jira.simulator.validation import jira_error

if TYPE_CHECKING:
    from connectors.jira.simulator.core import JiraSimulator

__all__ = ["delete_property", "get_property", "list_properties", "put_property"]


async def list_properties(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    base = f"{sim.config.base_url}/rest/api/{ctx.version}/issue/{issue.id}/properties"
    return JSONResponse({"keys": [{"key": k, "self": f"{base}/{k}"} for k in issue.properties]})


async def put_property(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    prop = request.path_params["prop"]
    value = await read_body(request)
    check_property(prop, value)
    existed = prop in issue.properties
    issue.properties[prop] = value
    return Response(status_code=200 if existed else 201)


async def get_property(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    prop = request.path_params["prop"]
    if prop not in issue.properties:
        return jira_error(404, [f"The property with key '{prop}' does not exist."])
    return JSONResponse({"key": prop, "value": issue.properties[prop]})


async def delete_property(sim: JiraSimulator, request: Request, ctx: Ctx) -> Response:
    issue = issue_or_404(sim, request.path_params["key"])
    if issue.properties.pop(request.path_params["prop"], None) is None:
        return jira_error(404, ["The property does not exist."])
    return Response(status_code=204)
