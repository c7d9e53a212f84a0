"""The Jira simulator on its own: the API contract sinks-api.md 6.1 lists, JQL, admin routes, CLI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.jira.simulator import JiraSimulator, SimClock, adf_problems
from connectors.jira.simulator.__main__ import build
from connectors.jira.simulator.jql import JqlError, parse
from tests.connectors.jira.conftest import SITE, SimFactory, sim_stats

AUTH = ("bot@example.com", "sim-api-token")
V3 = f"{SITE}/rest/api/3"
DOC = {"type": "doc", "version": 1,
       "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hello"}]}]}


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"project": {"key": "SEC"}, "issuetype": {"name": "Task"},
                            "summary": "A finding", "description": DOC}
    base.update(overrides)
    return {"fields": base}


@pytest.fixture
async def api(sim: JiraSimulator) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), auth=AUTH) as client:
        yield client


# -- create and validation ----------------------------------------------------------------------


async def test_create_requires_project_type_and_summary(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V3}/issue", json={"fields": {}})
    assert response.status_code == 400
    assert response.json() == {"errorMessages": [], "errors": {
        "project": "Specify a valid project ID or key", "issuetype": "Specify an issue type",
        "summary": "You must specify a summary of the issue."}}
    unknown = await api.post(f"{V3}/issue", json=fields(project={"key": "NOPE"},
                                                        customfield_1="x"))
    assert unknown.json()["errors"] == {
        "project": "valid project is required",
        "customfield_1": "Field 'customfield_1' cannot be set. It is not on the appropriate "
                         "screen, or unknown."}


@pytest.mark.parametrize(("document", "problem"), [
    ("plain string", "not an ADF document"),
    ({"type": "doc", "version": 2, "content": []}, "version must be 1"),
    ({"type": "doc", "version": 1, "content": [{"type": "paragraph",
                                                "content": [{"type": "text", "text": ""}]}]},
     "non-empty"),
    ({"type": "doc", "version": 1, "content": [{"type": "heading", "attrs": {"level": 7},
                                                "content": []}]}, "level must be 1..6"),
    ({"type": "doc", "version": 1, "content": [{"type": "codeBlock", "content": [
        {"type": "text", "text": "x", "marks": [{"type": "strong"}]}]}]}, "must not carry marks"),
    ({"type": "doc", "version": 1, "content": [{"type": "marquee"}]}, "not a top-level block"),
    ({"type": "doc", "version": 1, "content": [{"type": "bulletList", "content": [
        {"type": "paragraph", "content": []}]}]}, "not allowed in bulletList"),
    ({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "x", "marks": [{"type": "link", "attrs": {}}]}]}]},
     "link needs attrs.href"),
])
async def test_invalid_adf_is_rejected(api: httpx.AsyncClient, document: Any, problem: str) -> None:
    assert any(problem in p for p in adf_problems(document))
    response = await api.post(f"{V3}/issue", json=fields(description=document))
    assert response.status_code == 400
    assert "Operation value must be an Atlassian Document" in response.json()["errors"]["description"]


async def test_field_value_checks(api: httpx.AsyncClient, make_sim: SimFactory) -> None:
    checks = {
        "summary": ("s" * 256, "Summary must be less than 255 characters."),
        "priority": ({"name": "Blocker"}, "The priority selected is invalid."),
        "labels": (["has space"], "The label 'has space' contains spaces which is invalid."),
    }
    for name, (value, message) in checks.items():
        response = await api.post(f"{V3}/issue", json=fields(**{name: value}))
        assert response.json()["errors"] == {name: message}
    too_long = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "x" * 33_000}]}]}
    response = await api.post(f"{V3}/issue", json=fields(description=too_long))
    assert "exceeds the allowed limit of 32,767" in response.json()["errors"]["description"]
    v2 = await api.post(f"{SITE}/rest/api/2/issue", json=fields(description=DOC))
    assert v2.json()["errors"] == {"description": "Operation value must be a string"}


async def test_get_issue_returns_all_fields_and_x_aaccountid(api: httpx.AsyncClient) -> None:
    created = (await api.post(f"{V3}/issue", json=fields(labels=["a"]))).json()
    assert created["key"] == "SEC-1" and created["self"] == f"{V3}/issue/{created['id']}"
    response = await api.get(f"{V3}/issue/SEC-1")
    assert response.headers["X-AAccountId"] == "bot@example.com"
    body = response.json()
    assert {"summary", "description", "status", "labels", "created", "updated"} <= set(body["fields"])
    assert body["fields"]["status"]["statusCategory"]["key"] == "new"
    assert body["fields"]["created"].endswith("+0000")
    assert (await api.get(f"{V3}/issue/{created['id']}")).json()["key"] == "SEC-1"
    missing = await api.get(f"{V3}/issue/SEC-404")
    assert missing.status_code == 404


async def test_edit_rejects_a_field_in_both_fields_and_update(api: httpx.AsyncClient) -> None:
    await api.post(f"{V3}/issue", json=fields())
    response = await api.put(f"{V3}/issue/SEC-1", json={"fields": {"labels": ["a"]},
                                                        "update": {"labels": [{"add": "b"}]}})
    assert response.status_code == 400 and "labels" in response.json()["errors"]


# -- properties, comments, transitions ----------------------------------------------------------


async def test_entity_properties(api: httpx.AsyncClient) -> None:
    await api.post(f"{V3}/issue", json=fields())
    url = f"{V3}/issue/SEC-1/properties/prismaflow.sync"
    assert (await api.put(url, json={"v": 1})).status_code == 201
    assert (await api.put(url, json={"v": 2})).status_code == 200
    assert (await api.get(url)).json() == {"key": "prismaflow.sync", "value": {"v": 2}}
    keys = (await api.get(f"{V3}/issue/SEC-1/properties")).json()["keys"]
    assert [k["key"] for k in keys] == ["prismaflow.sync"]
    assert (await api.put(url, json={})).status_code == 400
    assert (await api.delete(url)).status_code == 204
    assert (await api.get(url)).status_code == 404


async def test_comments_are_paged(api: httpx.AsyncClient) -> None:
    await api.post(f"{V3}/issue", json=fields())
    for _ in range(3):
        response = await api.post(f"{V3}/issue/SEC-1/comment", json={"body": DOC})
        assert response.status_code == 201
    comment = response.json()
    assert comment["author"]["accountId"] == "bot@example.com" and comment["created"].endswith("+0000")
    page = (await api.get(f"{V3}/issue/SEC-1/comment", params={"maxResults": 2})).json()
    assert page["total"] == 3 and len(page["comments"]) == 2
    empty = await api.post(f"{V3}/issue/SEC-1/comment", json={"body": {"type": "doc"}})
    assert empty.status_code == 400


async def test_workflow_transitions(api: httpx.AsyncClient) -> None:
    await api.post(f"{V3}/issue", json=fields())
    names = [t["name"] for t in (await api.get(f"{V3}/issue/SEC-1/transitions")).json()["transitions"]]
    assert names == ["Start Progress"]
    bad = await api.post(f"{V3}/issue/SEC-1/transitions", json={"transition": {"id": "41"}})
    assert bad.status_code == 400
    assert bad.json()["errorMessages"] == ["Transition id '41' is not valid for this issue."]
    for tid in ("11", "21"):
        ok = await api.post(f"{V3}/issue/SEC-1/transitions", json={
            "transition": {"id": tid}, "fields": {"resolution": {"name": "Fixed"}}})
        assert ok.status_code == 204
    issue = (await api.get(f"{V3}/issue/SEC-1")).json()["fields"]
    assert issue["status"]["name"] == "Done" and issue["resolution"] == {"name": "Fixed"}
    assert [t["name"] for t in (await api.get(f"{V3}/issue/SEC-1/transitions")).json()[
        "transitions"]] == ["Reopen"]


# -- search -------------------------------------------------------------------------------------


async def test_search_jql_contract(api: httpx.AsyncClient) -> None:
    for i in range(3):
        await api.post(f"{V3}/issue", json=fields(labels=[f"l{i}", "all"]))
    first = (await api.get(f"{V3}/search/jql", params={"jql": "labels = all", "maxResults": 2})).json()
    assert [set(i) for i in first["issues"]] == [{"id", "key", "self"}] * 2  # default: id only
    assert first["isLast"] is False and "total" not in first
    second = (await api.post(f"{V3}/search/jql", json={
        "jql": "labels = all", "maxResults": 2, "nextPageToken": first["nextPageToken"],
        "fields": ["summary"]})).json()
    assert second["isLast"] is True and "nextPageToken" not in second
    assert second["issues"][0]["fields"] == {"summary": "A finding"}
    unbounded = await api.get(f"{V3}/search/jql", params={"jql": "order by key desc"})
    assert unbounded.status_code == 400 and "Unbounded" in unbounded.json()["errorMessages"][0]
    bad_field = await api.get(f"{V3}/search/jql", params={"jql": "colour = red"})
    assert "Field 'colour' does not exist" in bad_field.json()["errorMessages"][0]
    bad_token = await api.post(f"{V3}/search/jql", json={"jql": "labels = l1",
                                                         "nextPageToken": first["nextPageToken"]})
    assert bad_token.status_code == 400
    count = await api.post(f"{V3}/search/approximate-count", json={"jql": "labels in (l1, l2)"})
    assert count.json() == {"count": 2}


async def test_legacy_search_is_gone_on_cloud(api: httpx.AsyncClient) -> None:
    for version in ("2", "3"):
        response = await api.get(f"{SITE}/rest/api/{version}/search", params={"jql": "project = SEC"})
        assert response.status_code == 410
        assert "CHANGE-2046" in response.json()["errorMessages"][0]


async def test_data_center_search_pages_by_start_at(make_sim: SimFactory) -> None:
    sim = make_sim(flavour="datacenter")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), auth=AUTH) as api:
        for _ in range(3):
            created = await api.post(f"{SITE}/rest/api/2/issue",
                                     json=fields(description="h1. wiki *text*"))
            assert created.status_code == 201
        page = (await api.get(f"{SITE}/rest/api/2/search", params={
            "jql": "project = SEC", "startAt": 1, "maxResults": 1})).json()
        assert (page["startAt"], page["maxResults"], page["total"]) == (1, 1, 3)
        assert page["issues"][0]["key"] == "SEC-2"
        assert (await api.get(f"{SITE}/rest/api/2/search/jql", params={"jql": "x = 1"})).status_code == 404
        assert (await api.get(f"{V3}/issue/SEC-1")).status_code == 404


@pytest.mark.parametrize(("jql", "error"), [
    ("project = ", "Expecting more input"),
    ("project = SEC SEC", "Expecting either 'OR' or 'AND'"),
    ("(project = SEC", "Expecting more input"),
    ("labels in (a, b", "Expecting more input"),
    ("project = SEC ORDER BY a, b, c, d, e, f, g, h", "at most 7"),
    ("project % SEC", "reserved JQL character"),
])
def test_jql_errors(jql: str, error: str) -> None:
    with pytest.raises(JqlError, match=error):
        parse(jql)


def test_jql_boolean_logic() -> None:
    rows = [{"labels": ["a", "b"], "status": ["To Do"]}, {"labels": ["c"], "status": ["Done"]},
            {"labels": [], "status": ["Done"]}]

    def resolve(row: Any, name: str) -> list[str]:
        return list(row[name])

    def hits(jql: str) -> list[int]:
        query = parse(jql)
        return [i for i, row in enumerate(rows) if query.matches(row, resolve)]

    assert hits('labels = "a" OR labels = c') == [0, 1]
    assert hits("labels = a AND status = Done") == []
    assert hits("NOT status = Done") == [0]
    assert hits("(labels = a OR labels = c) AND status != 'To Do'") == [1]
    assert hits("labels is EMPTY") == [2]
    assert hits("labels is not empty AND labels not in (c)") == [0]
    assert hits("status ~ don") == [1, 2]
    assert parse("labels = a order by created DESC, key").order_by == [("created", True),
                                                                        ("key", False)]


# -- auth, rate limits, faults, admin -----------------------------------------------------------


async def test_auth(sim: JiraSimulator) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        assert (await http.get(f"{V3}/myself")).status_code == 401
        assert (await http.get(f"{V3}/myself", auth=("bot@example.com", "x"))).status_code == 401
        bad = await http.get(f"{V3}/myself", headers={"Authorization": "Basic !!!"})
        assert bad.status_code == 401 and bad.json()["errorMessages"]
        pat = await http.get(f"{V3}/myself", headers={"Authorization": "Bearer sim-pat"})
        assert pat.json()["accountId"] == "bot@example.com"


async def test_faults_by_count_and_by_duration(sim: JiraSimulator, api: httpx.AsyncClient,
                                               clock: SimClock) -> None:
    bad = await api.post(f"{SITE}/_sim/faults", json={"kind": "boom"})
    assert bad.status_code == 400
    await api.post(f"{SITE}/_sim/faults", json=[
        {"kind": "5xx", "status": 500, "count": 2, "route": "/rest/api/3/myself"},
        {"kind": "slow", "delay_s": 0.01, "route": "/rest/api/3/issue/{key}"}])
    statuses = [(await api.get(f"{V3}/myself")).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    await api.post(f"{SITE}/_sim/faults", json={"kind": "5xx", "duration_s": 60,
                                                "retry_after_s": 30})
    down = await api.get(f"{V3}/myself")
    assert down.status_code == 503 and down.headers["Retry-After"] == "30"
    await api.post(f"{SITE}/_sim/advance", json={"seconds": 59})
    assert (await api.get(f"{V3}/myself")).status_code == 503
    clock.advance(1)
    assert (await api.get(f"{V3}/myself")).status_code == 200
    stats = await sim_stats(api)
    assert stats["GET /rest/api/3/myself"]["statuses"] == {"500": 2, "200": 2, "503": 2}
    await api.post(f"{SITE}/_sim/stats/reset")
    assert await sim_stats(api) == {}
    assert (await api.delete(f"{SITE}/_sim/faults")).json() == {"faults": []}


def test_cli_builds_the_simulator() -> None:
    sim, args = build(["--port", "8299", "--user", "a@b.c:tok", "--pat", "p=a@b.c",
                       "--project", "ops", "--datacenter", "--index-property", "prismaflow.sync"])
    assert args.port == 8299 and sim.config.flavour == "datacenter"
    assert sim.config.users == {"a@b.c": "tok"} and sim.config.bearer_tokens == {"p": "a@b.c"}
    assert sim.config.projects == {"OPS": "OPS"} and sim.versions == ("2",)
    assert sim.config.indexed_properties == frozenset({"prismaflow.sync"})
    default, args = build([])
    assert args.port == 8281 and default.versions == ("2", "3")
