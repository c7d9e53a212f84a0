"""The Jira REST handlers: issues, entity properties, comments, transitions, JQL search, myself.

Each handler gets the request and a :class:`Ctx` (user, API version). Version ``3`` takes rich
text as ADF documents, version ``2`` as strings (wiki markup), like Jira Cloud and Data Center.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.jira.simulator.jql import JqlError, parse
from connectors.jira.simulator.store import Issue
from connectors.jira.simulator.validation import adf_problems, jira_error, text_too_long

if TYPE_CHECKING:
    from connectors.jira.simulator.core import Ctx, JiraSimulator

__all__ = ["routes"]

NO_ISSUE = "Issue does not exist or you do not have permission to see it."
TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
REMOVED = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
           "A full migration guideline is available at "
           "https://developer.atlassian.com/changelog/#CHANGE-2046")
UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction to your "
             "query.")
BAD_PROPERTY = "The property value must be valid, non-empty JSON of at most 32768 characters."
SETTABLE = {"project", "issuetype", "summary", "description", "priority", "labels", "components",
            "assignee", "duedate", "environment"}


class _Invalid(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise _Invalid(jira_error(400, ["Unexpected character in the request body: not JSON."])) \
            from None


def routes(sim: JiraSimulator) -> list[Route]:
    """Every REST route of the simulated site, for each API version it serves."""
    cfg, store = sim.config, sim.store

    def issue_or_404(key: str) -> Issue:
        issue = store.get(key)
        if issue is None:
            raise _Invalid(jira_error(404, [NO_ISSUE]))
        return issue

    def rich_problem(value: Any, version: str) -> str | None:
        if version == "3":
            problems = adf_problems(value)
            if problems:
                return "Operation value must be an Atlassian Document: " + problems[0]
        elif not isinstance(value, str):
            return "Operation value must be a string"
        return TOO_LONG if text_too_long(value) else None

    def check_fields(fields: dict[str, Any], version: str, creating: bool) -> dict[str, Any]:
        """Validate settable fields; returns them normalised (names, lists of strings)."""
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        for field_name in fields:
            if field_name not in SETTABLE:
                errors[field_name] = (f"Field '{field_name}' cannot be set. It is not on the appropriate "
                                "screen, or unknown.")
        if creating or "project" in fields:
            raw = fields.get("project") or {}
            key = str(raw.get("key") or raw.get("id") or "") if isinstance(raw, dict) else ""
            if not key:
                errors["project"] = "Specify a valid project ID or key"
            elif key.upper() not in cfg.projects:
                errors["project"] = "valid project is required"
            out["project"] = key.upper()
        if creating or "issuetype" in fields:
            raw = fields.get("issuetype") or {}
            type_name = raw.get("name") if isinstance(raw, dict) else None
            if not type_name:
                errors["issuetype"] = "Specify an issue type"
            elif type_name not in cfg.issue_types:
                errors["issuetype"] = "valid issue type is required"
            out["issuetype"] = type_name
        if creating or "summary" in fields:
            summary = fields.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                errors["summary"] = "You must specify a summary of the issue."
            elif len(summary) > 255:
                errors["summary"] = "Summary must be less than 255 characters."
            elif "\n" in summary or "\r" in summary:
                errors["summary"] = "The summary is invalid because it contains newline characters."
            out["summary"] = summary
        for rich in ("description", "environment"):
            if fields.get(rich) is not None:
                problem = rich_problem(fields[rich], version)
                if problem:
                    errors[rich] = problem
                out[rich] = fields[rich]
        if "priority" in fields:
            raw = fields["priority"] or {}
            priority = raw.get("name") if isinstance(raw, dict) else None
            if priority not in cfg.priorities:
                errors["priority"] = "The priority selected is invalid."
            out["priority"] = priority
        if "labels" in fields:
            labels = fields["labels"]
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                errors["labels"] = "Labels must be a list of strings."
            else:
                bad = [x for x in labels if not x or " " in x or len(x) > 255]
                if bad:
                    errors["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
                out["labels"] = list(dict.fromkeys(labels))
        if "components" in fields:
            names = [c.get("name") for c in fields["components"] or [] if isinstance(c, dict)]
            unknown = [n for n in names if cfg.components is not None and n not in cfg.components]
            if unknown or None in names:
                errors["components"] = f"Component name '{unknown[0] if unknown else ''}' is not valid"
            out["components"] = names
        if fields.get("assignee") is not None:
            raw = fields["assignee"]
            who = raw.get("accountId" if version == "3" else "name") if isinstance(raw, dict) else None
            if not who or (cfg.assignable is not None and who not in cfg.assignable):
                errors["assignee"] = ("Specified user does not exist or you do not have required "
                                      "permissions")
            out["assignee"] = who
        if errors:
            raise _Invalid(jira_error(400, [], errors))
        return out

    def check_property(key: str, value: Any) -> None:
        if len(key) > 255:
            raise _Invalid(jira_error(400, ["The property key cannot be longer than 255 characters."]))
        if value is None or value == {} or len(json.dumps(value)) > 32_768:
            raise _Invalid(jira_error(400, [BAD_PROPERTY]))

    # -- handlers ------------------------------------------------------------------------------

    async def myself(request: Request, ctx: Ctx) -> Response:
        return JSONResponse({"accountId": ctx.user, "emailAddress": ctx.user, "name": ctx.user,
                             "displayName": ctx.user, "active": True})

    async def create_issue(request: Request, ctx: Ctx) -> Response:
        body = await _body(request)
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return jira_error(400, ["Issue must have 'fields'."])
        checked = check_fields(fields, ctx.version, creating=True)
        props = body.get("properties") or []
        for prop in props:
            check_property(str(prop.get("key", "")), prop.get("value"))
        project = checked.pop("project")
        issue = store.add(project, checked, sim.clock.now())
        for prop in props:
            issue.properties[str(prop["key"])] = prop["value"]
        return JSONResponse({"id": str(issue.id), "key": issue.key,
                             "self": f"{cfg.base_url}/rest/api/{ctx.version}/issue/{issue.id}"},
                            status_code=201)

    async def get_issue(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        raw = request.query_params.get("fields")
        props = [p for p in request.query_params.get("properties", "").split(",") if p]
        return JSONResponse(store.bean(issue, ctx.version, raw.split(",") if raw else None, props))

    async def edit_issue(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        body = await _body(request)
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        both = set(fields) & set(update)
        if both:
            return jira_error(400, [], {f: "Field cannot be in both 'fields' and 'update'."
                                        for f in both})
        checked = check_fields(fields, ctx.version, creating=False)
        checked.pop("project", None)
        labels = list(checked.pop("labels", issue.fields.get("labels", [])))
        for op in update.get("labels", []):
            if "add" in op and op["add"] not in labels:
                checked_label = check_fields({"labels": [op["add"]]}, ctx.version, False)
                labels.extend(checked_label["labels"])
            elif "remove" in op and op["remove"] in labels:
                labels.remove(op["remove"])
            elif "set" in op:
                labels = list(check_fields({"labels": op["set"]}, ctx.version, False)["labels"])
        issue.fields.update(checked)
        issue.fields["labels"] = labels
        issue.updated = sim.clock.now()
        return Response(status_code=204)

    async def list_properties(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        base = f"{cfg.base_url}/rest/api/{ctx.version}/issue/{issue.id}/properties"
        return JSONResponse({"keys": [{"key": k, "self": f"{base}/{k}"} for k in issue.properties]})

    async def put_property(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        prop = request.path_params["prop"]
        value = await _body(request)
        check_property(prop, value)
        existed = prop in issue.properties
        issue.properties[prop] = value
        return Response(status_code=200 if existed else 201)

    async def get_property(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        prop = request.path_params["prop"]
        if prop not in issue.properties:
            return jira_error(404, [f"The property with key '{prop}' does not exist."])
        return JSONResponse({"key": prop, "value": issue.properties[prop]})

    async def delete_property(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        if issue.properties.pop(request.path_params["prop"], None) is None:
            return jira_error(404, ["The property does not exist."])
        return Response(status_code=204)

    async def add_comment(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        body = await _body(request)
        value = body.get("body") if isinstance(body, dict) else None
        problem = "Comment body can not be empty!" if value is None else rich_problem(value, ctx.version)
        if problem:
            return jira_error(400, [], {"comment": problem})
        comment = store.add_comment(issue, value, ctx.user, sim.clock.now())
        return JSONResponse(comment, status_code=201)

    async def list_comments(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        start = int(request.query_params.get("startAt", "0"))
        size = min(int(request.query_params.get("maxResults", "50")), 100)
        page = issue.comments[start:start + size]
        return JSONResponse({"startAt": start, "maxResults": size, "total": len(issue.comments),
                             "comments": page})

    async def get_transitions(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        available = store.workflow.available(issue.status)
        return JSONResponse({"transitions": [store.transition_json(t) for t in available]})

    async def do_transition(request: Request, ctx: Ctx) -> Response:
        issue = issue_or_404(request.path_params["key"])
        body = await _body(request)
        wanted = str((body.get("transition") or {}).get("id", ""))
        if not wanted:
            return jira_error(400, ["Missing 'transition' identifier"])
        chosen = next((t for t in store.workflow.available(issue.status) if t.id == wanted), None)
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
        store.transition(issue, chosen, sim.clock.now(), resolution)
        for value in comments:
            store.add_comment(issue, value, ctx.user, sim.clock.now())
        return Response(status_code=204)

    async def search_args(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = await _body(request)
            return body if isinstance(body, dict) else {}
        q = request.query_params
        args: dict[str, Any] = {k: q[k] for k in q}
        for name in ("fields", "properties"):
            if name in q:
                args[name] = [x for x in q[name].split(",") if x]
        return args

    def run_jql(jql: str) -> list[Issue]:
        try:
            query = parse(jql)
            if query.where is None:
                raise JqlError(UNBOUNDED)

            def resolve(issue: Any, name: str) -> list[str]:
                try:
                    return store.jql_values(issue, name, cfg.indexed_properties)
                except KeyError:
                    raise JqlError(f"Field '{name}' does not exist or you do not have permission "
                                   "to view it.") from None

            found = [i for i in store.issues.values() if query.matches(i, resolve)]
        except JqlError as exc:
            raise _Invalid(jira_error(400, [str(exc)])) from None
        for name, descending in reversed(query.order_by or [("created", False)]):
            key = name.lower()
            found.sort(key=lambda i: (i.created, i.id) if key in ("created", "key", "id") else
                       (i.updated, i.id) if key == "updated" else (str(i.fields.get(key)), i.id),
                       reverse=descending)
        return found

    def page_size(args: dict[str, Any], fields: list[str]) -> int:
        cap = cfg.id_only_max_results if set(fields) <= {"id", "key"} else cfg.max_results_cap
        return max(1, min(int(args.get("maxResults", 50)), cap))

    async def search_jql(request: Request, ctx: Ctx) -> Response:
        args = await search_args(request)
        jql = str(args.get("jql") or "")
        if not jql.strip():
            return jira_error(400, [UNBOUNDED])
        found = run_jql(jql)
        fields = list(args.get("fields") or ["id"])
        size = page_size(args, fields)
        digest = hashlib.sha1(jql.encode()).hexdigest()[:10]
        offset = 0
        if args.get("nextPageToken"):
            try:
                raw = json.loads(base64.urlsafe_b64decode(str(args["nextPageToken"]).encode()))
                offset, ok = int(raw["o"]), raw["q"] == digest
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                return jira_error(400, ["The provided next page token is invalid or expired."])
        props = list(args.get("properties") or [])[:5]
        page = found[offset:offset + size]
        body: dict[str, Any] = {"issues": [store.bean(i, ctx.version, fields, props) for i in page],
                                "isLast": offset + size >= len(found)}
        if not body["isLast"]:
            token = json.dumps({"o": offset + size, "q": digest}).encode()
            body["nextPageToken"] = base64.urlsafe_b64encode(token).decode()
        return JSONResponse(body)

    async def approximate_count(request: Request, ctx: Ctx) -> Response:
        args = await search_args(request)
        return JSONResponse({"count": len(run_jql(str(args.get("jql") or "")))})

    async def legacy_search(request: Request, ctx: Ctx) -> Response:
        if cfg.flavour == "cloud" and cfg.legacy_search_status != 200:
            return jira_error(cfg.legacy_search_status, [REMOVED])
        args = await search_args(request)
        jql = str(args.get("jql") or "")
        found = run_jql(jql) if jql.strip() else list(store.issues.values())
        start = int(args.get("startAt", 0))
        size = max(1, min(int(args.get("maxResults", 50)), cfg.max_results_cap))
        fields = args.get("fields") or ["*navigable"]
        props = list(args.get("properties") or [])
        return JSONResponse({"startAt": start, "maxResults": size, "total": len(found),
                             "issues": [store.bean(i, ctx.version, fields, props)
                                        for i in found[start:start + size]]})

    def guarded(handler: Any) -> Any:
        async def run(request: Request, ctx: Ctx) -> Response:
            try:
                response: Response = await handler(request, ctx)
            except _Invalid as invalid:
                return invalid.response
            return response
        return run

    table: list[tuple[str, str, Any, bool]] = [
        ("GET", "/myself", myself, False),
        ("POST", "/issue", create_issue, True),
        ("GET", "/issue/{key}", get_issue, False),
        ("PUT", "/issue/{key}", edit_issue, True),
        ("GET", "/issue/{key}/properties", list_properties, False),
        ("PUT", "/issue/{key}/properties/{prop}", put_property, True),
        ("GET", "/issue/{key}/properties/{prop}", get_property, False),
        ("DELETE", "/issue/{key}/properties/{prop}", delete_property, True),
        ("POST", "/issue/{key}/comment", add_comment, True),
        ("GET", "/issue/{key}/comment", list_comments, False),
        ("GET", "/issue/{key}/transitions", get_transitions, False),
        ("POST", "/issue/{key}/transitions", do_transition, True),
        ("GET", "/search", legacy_search, False),
        ("POST", "/search", legacy_search, False),
    ]
    if cfg.flavour == "cloud":
        table += [("GET", "/search/jql", search_jql, False),
                  ("POST", "/search/jql", search_jql, False),
                  ("POST", "/search/approximate-count", approximate_count, False)]
    return [sim.endpoint(method, f"/rest/api/{v}{path}", guarded(handler), version=v, write=write)
            for v in sim.versions for method, path, handler, write in table]
