"""The ServiceNow simulator on its own: queries, paging, rendering, headers, auth, admin API."""

from __future__ import annotations

import httpx
import pytest

from connectors.servicenow.simulator import ServiceNowSimulator, parse_query
from connectors.servicenow.simulator.__main__ import build
from connectors.simkit import SimClock
from tests.connectors.servicenow.conftest import INSTANCE, SimFactory

AUTH = ("prismaflow", "sim-password")
JSON = {"Accept": "application/json"}
TABLE = f"{INSTANCE}/api/now/table/incident"


async def seed(http: httpx.AsyncClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = {"short_description": f"finding {i}", "correlation_id": f"fp-{i % 3}",
                "urgency": str(1 + i % 3), "impact": "2", "assignment_group": "a" * 32}
        response = await http.post(TABLE, json=body, headers=JSON, auth=AUTH)
        assert response.status_code == 201
        ids.append(response.json()["result"]["sys_id"])
    return ids


def test_query_parser_subset() -> None:
    fields = ("state", "active", "correlation_id", "short_description", "sys_created_on")
    q = parse_query("active=true^state=1^ORstate=2^short_descriptionLIKEssh^bogus=1"
                    "^ORDERBYDESCsys_created_on", fields)
    assert [[c.field for c in g] for g in q.groups] == [["active"], ["state", "state"],
                                                       ["short_description"]]
    assert q.order == [("sys_created_on", True)]
    assert q.invalid == ["bogus=1"]
    assert q.matches({"active": "true", "state": "2", "short_description": "open ssh port"})
    assert not q.matches({"active": "true", "state": "6", "short_description": "open ssh"})
    assert parse_query("correlation_idISEMPTY", fields).matches({"correlation_id": ""})
    assert parse_query("stateIN1,2,3", fields).matches({"state": "3"})


async def test_list_filters_pages_and_links(http: httpx.AsyncClient) -> None:
    await seed(http, 7)
    response = await http.get(TABLE, params={"sysparm_query": "correlation_id=fp-0^ORDERBYnumber",
                                             "sysparm_limit": "2"}, headers=JSON, auth=AUTH)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert [r["number"] for r in response.json()["result"]] == ["INC0010001", "INC0010004"]
    links = response.headers["Link"]
    assert 'rel="next"' in links and 'rel="last"' in links and 'rel="prev"' not in links
    assert "sysparm_offset=2" in links
    second = await http.get(TABLE, params={"sysparm_query": "correlation_id=fp-0^ORDERBYnumber",
                                           "sysparm_limit": "2", "sysparm_offset": "2"},
                            headers=JSON, auth=AUTH)
    assert [r["number"] for r in second.json()["result"]] == ["INC0010007"]
    assert 'rel="next"' not in second.headers["Link"]


async def test_name_value_filters_and_invalid_clauses(make_sim: SimFactory) -> None:
    for strict in (False, True):
        sim = make_sim(invalid_query_returns_no_rows=strict)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
            await seed(http, 3)
            pairs = await http.get(TABLE, params={"correlation_id": "fp-1"}, headers=JSON,
                                   auth=AUTH)
            assert len(pairs.json()["result"]) == 1
            bad = await http.get(TABLE, params={"sysparm_query": "nosuchfield=1"}, headers=JSON,
                                 auth=AUTH)
            assert len(bad.json()["result"]) == (0 if strict else 3)


async def test_reference_links_and_display_values(http: httpx.AsyncClient,
                                                  sim: ServiceNowSimulator) -> None:
    sim.store.insert("sys_user_group", {"name": "Cloud Platform"}, "admin")
    group_id = sim.records("sys_user_group")[0]["sys_id"]
    created = await http.post(TABLE, json={"short_description": "x", "assignment_group": group_id,
                                           "urgency": "1", "impact": "1"},
                              headers=JSON, auth=AUTH)
    result = created.json()["result"]
    assert result["assignment_group"] == {
        "link": f"{INSTANCE}/api/now/table/sys_user_group/{group_id}", "value": group_id}
    assert result["priority"] == "1" and result["state"] == "1"
    shown = await http.get(f"{TABLE}/{result['sys_id']}",
                           params={"sysparm_display_value": "true",
                                   "sysparm_exclude_reference_link": "true",
                                   "sysparm_fields": "priority,state,assignment_group"},
                           headers=JSON, auth=AUTH)
    assert shown.json()["result"] == {"priority": "1 - Critical", "state": "New",
                                      "assignment_group": "Cloud Platform"}


async def test_missing_headers_and_auth(http: httpx.AsyncClient) -> None:
    no_accept = await http.get(TABLE, auth=AUTH, headers={"Accept": ""})
    assert no_accept.status_code == 400
    no_type = await http.post(TABLE, content=b'{"short_description":"x"}', headers=JSON,
                              auth=AUTH)
    assert no_type.status_code == 400
    anonymous = await http.get(TABLE, headers=JSON)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": {"message": "User Not Authenticated",
                                          "detail": "Required to provide Auth information"},
                                "status": "failure"}


async def test_oauth_token_grant_and_expiry(http: httpx.AsyncClient, clock: SimClock) -> None:
    token = await http.post(f"{INSTANCE}/oauth_token.do", data={
        "grant_type": "password", "client_id": "sim-client", "client_secret": "sim-secret",
        "username": "prismaflow", "password": "sim-password"})
    assert token.status_code == 200
    body = token.json()
    bearer = {**JSON, "Authorization": f"Bearer {body['access_token']}"}
    assert (await http.get(TABLE, headers=bearer)).status_code == 200
    clock.advance(body["expires_in"] + 1)
    assert (await http.get(TABLE, headers=bearer)).status_code == 401


async def test_one_record_per_post_and_journal_rows(http: httpx.AsyncClient,
                                                   sim: ServiceNowSimulator) -> None:
    response = await http.post(TABLE, json=[{"short_description": "a", "work_notes": "first"},
                                            {"short_description": "b"}], headers=JSON, auth=AUTH)
    assert response.json()["result"]["work_notes"] == ""
    assert [r["short_description"] for r in sim.records()] == ["a"]
    journal = sim.records("sys_journal_field")
    assert journal[0]["element"] == "work_notes" and journal[0]["value"] == "first"


async def test_admin_api_records_faults_and_stats(http: httpx.AsyncClient) -> None:
    await seed(http, 1)
    listing = (await http.get(f"{INSTANCE}/_sim/records", params={"table": "incident"})).json()
    assert list(listing) == ["incident"] and len(listing["incident"]) == 1
    bad = await http.post(f"{INSTANCE}/_sim/faults", json={"kind": "teapot"})
    assert bad.status_code == 400
    await http.post(f"{INSTANCE}/_sim/faults", json={"kind": "500", "method": "GET"})
    assert (await http.get(TABLE, headers=JSON, auth=AUTH)).status_code == 500
    assert (await http.get(TABLE, headers=JSON, auth=AUTH)).status_code == 200
    stats = (await http.get(f"{INSTANCE}/_sim/stats")).json()
    assert stats["routes"]["GET /api/now/table/{table}"]["statuses"] == {"500": 1, "200": 1}


def test_cli_builds_a_simulator() -> None:
    sim, args = build(["--port", "8282", "--user", "bot:pw", "--rate-limit", "100", "--no-sir"])
    assert args.port == 8282
    assert sim.config.users["bot"].password == "pw"
    assert not sim.config.users["auditor"].writable
    assert sim.config.rate_limit_per_hour == 100
    assert "sn_si_incident" not in sim.config.installed_tables


@pytest.mark.parametrize("state", ["6", "7"])
async def test_resolving_states_need_close_fields_unless_switched_off(
    make_sim: SimFactory, state: str
) -> None:
    for enforce in (True, False):
        sim = make_sim(require_close_fields=enforce)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
            sys_id = (await seed(http, 1))[0]
            response = await http.patch(f"{TABLE}/{sys_id}", json={"state": state},
                                        headers=JSON, auth=AUTH)
            assert response.status_code == (403 if enforce else 200)
