"""Simulator responses (and client requests) validate against the official OpenAPI documents.

See ``openapi_support`` for how OpenAPI 3.0 is mapped to JSON Schema and for the listed, tested
deviations where the official document is wrong for real data.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx
import pytest

from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.models import TimeRange
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator
from connectors.prisma.simulator.catalog import POLICIES
from tests.connectors.prisma.conftest import API, CONSOLE
from tests.connectors.prisma.openapi_support import (
    COMPUTE_LIST_ENDPOINTS,
    NESTED_ENUM_DOCS,
    count_nested_enums,
    DEVIATIONS,
    SPEC_DIR,
    SpecDeviation,
    document_bytes,
    errors,
    pointer_get,
    raw_document,
    request_validator,
    response_validator,
    spec_path,
)

CWPP = "cwpp/openapi-34-03-138-saas.json"


async def _token(http: httpx.AsyncClient, url: str) -> str:
    """The token the simulator issues for the default access key at ``url`` (login or authenticate)."""
    response = await http.post(url, json={"username": "sim-access-key", "password": "sim-secret-key"})
    value: str = response.json()["token"]
    return value


@pytest.fixture
async def token(http: httpx.AsyncClient) -> str:
    return await _token(http, f"{API}/login")


@pytest.fixture
async def compute_token(http: httpx.AsyncClient) -> str:
    return await _token(http, f"{CONSOLE}/api/v34.03/authenticate")


def check(doc: str, path: str, method: str, body: Any) -> None:
    problems = errors(response_validator(doc, path, method), body)
    assert not problems, f"{method} {path} does not match {doc}: {problems}"


def test_the_official_documents_are_vendored_inside_the_repository() -> None:
    assert spec_path("cspm/Alerts.json").is_file()
    assert spec_path(CWPP).is_file()
    assert (SPEC_DIR / "LICENSE").read_text().startswith("MIT License")


def test_each_vendored_document_is_byte_identical_to_the_upstream_file() -> None:
    """The README lists the sha256 of every upstream document; the decompressed copies match them."""
    listed = dict((name, digest) for digest, name in
                  re.findall(r"^([0-9a-f]{64})  (\S+\.json)$", (SPEC_DIR / "README.md").read_text(), re.M))
    stored = {str(p.relative_to(SPEC_DIR)).removesuffix(".gz") for p in SPEC_DIR.glob("*/*.json.gz")}
    assert stored == set(listed) and len(listed) == 14
    for name, digest in listed.items():
        assert hashlib.sha256(document_bytes(name)).hexdigest() == digest, name


@pytest.mark.parametrize("deviation", DEVIATIONS, ids=lambda d: f"{d.doc}:{d.pointer}")
def test_each_listed_spec_deviation_is_still_present(deviation: SpecDeviation) -> None:
    """When Palo Alto fixes the document this fails: then drop the workaround."""
    assert pointer_get(raw_document(deviation.doc), deviation.pointer) == deviation.documented


@pytest.mark.parametrize("doc", sorted(NESTED_ENUM_DOCS))
def test_the_cwpp_document_still_nests_its_enums(doc: str) -> None:
    assert count_nested_enums(raw_document(doc)) > 100


@pytest.mark.parametrize("path", COMPUTE_LIST_ENDPOINTS)
def test_compute_list_endpoints_are_documented_as_arrays(path: str) -> None:
    doc = raw_document(CWPP)
    content = doc["paths"][path]["get"]["responses"]["200"]["content"]
    name = next(iter(content.values()))["schema"]["$ref"].rsplit("/", 1)[-1]
    assert doc["components"]["schemas"][name]["type"] == "array"


async def test_login_and_extend(http: httpx.AsyncClient, token: str) -> None:
    login = await http.post(f"{API}/login",
                            json={"username": "sim-access-key", "password": "sim-secret-key"})
    check("cspm/Login.json", "/login", "post", login.json())
    extended = await http.get(f"{API}/auth_token/extend", headers={"x-redlock-auth": token})
    check("cspm/Login.json", "/auth_token/extend", "get", extended.json())


@pytest.mark.parametrize("detailed", [True, False])
async def test_v2_alert_post_every_alert(http: httpx.AsyncClient, token: str,
                                         sim: PrismaCloudSimulator, detailed: bool) -> None:
    response = await http.post(f"{API}/v2/alert", headers={"x-redlock-auth": token},
                               json={"detailed": detailed, "limit": 10_000})
    body = response.json()
    assert len(body["items"]) == len(sim.alerts)
    check("cspm/Alerts.json", "/v2/alert", "post", body)
    if detailed:  # what the spec requires of a policy, kept for the detailed form
        required = raw_document("cspm/Alerts.json")["components"]["schemas"]["PolicyModel"]
        assert all(set(required["required"]) <= set(a["policy"]) for a in body["items"])


async def test_v2_alert_post_second_page_and_get(http: httpx.AsyncClient, token: str) -> None:
    first = (await http.post(f"{API}/v2/alert", headers={"x-redlock-auth": token},
                             json={"limit": 5})).json()
    check("cspm/Alerts.json", "/v2/alert", "post", first)
    second = await http.post(f"{API}/v2/alert", headers={"x-redlock-auth": token},
                             json={"pageToken": first["nextPageToken"]})
    check("cspm/Alerts.json", "/v2/alert", "post", second.json())
    got = await http.get(f"{API}/v2/alert", headers={"x-redlock-auth": token}, params={
        "timeType": "relative", "timeAmount": "30", "timeUnit": "day", "detailed": "true",
        "alert.status": "open"})
    check("cspm/Alerts.json", "/v2/alert", "get", got.json())


async def test_alert_by_id_for_every_policy_type(http: httpx.AsyncClient, token: str,
                                                 sim: PrismaCloudSimulator) -> None:
    by_type: dict[str, str] = {}
    for alert in sim.alerts.values():
        by_type.setdefault(alert["policy"]["policyType"], alert["id"])
    assert {"config", "network", "iam", "audit_event", "workload_vulnerability"} <= set(by_type)
    for alert_id in by_type.values():
        response = await http.get(f"{API}/alert/{alert_id}", headers={"x-redlock-auth": token})
        check("cspm/Alerts.json", "/alert/{id}", "get", response.json())


async def test_remediation_cli(http: httpx.AsyncClient, token: str,
                               sim: PrismaCloudSimulator) -> None:
    alert_id = next(i for i, a in sorted(sim.alerts.items())
                    if a["status"] == "open" and POLICIES[a["policyId"]].remediable)
    body = {"alerts": [alert_id], "filter": {"timeRange": {"type": "to_now", "value": "epoch"}}}
    assert not errors(request_validator("cspm/Alerts.json", "/alert/remediation", "post"), body)
    response = await http.post(f"{API}/alert/remediation", headers={"x-redlock-auth": token},
                               json=body)
    check("cspm/Alerts.json", "/alert/remediation", "post", response.json())


async def test_dismiss_answers_200_without_body(http: httpx.AsyncClient, token: str,
                                                sim: PrismaCloudSimulator) -> None:
    alert_id = next(i for i, a in sorted(sim.alerts.items()) if a["status"] == "open")
    body = {"alerts": [alert_id], "dismissalNote": "n",
            "filter": {"timeRange": {"type": "to_now", "value": "epoch"}}}
    response = await http.post(f"{API}/alert/dismiss", headers={"x-redlock-auth": token}, json=body)
    doc = raw_document("cspm/Alerts.json")["paths"]["/alert/dismiss"]["post"]["responses"]["200"]
    assert response.status_code == 200 and response.content == b"" and "content" not in doc


async def test_resource(http: httpx.AsyncClient, token: str, sim: PrismaCloudSimulator) -> None:
    for kind in sorted({r["kind"] for r in sim.estate.resources.values()}):
        res = next(r for r in sim.estate.resources.values() if r["kind"] == kind)
        response = await http.post(f"{API}/resource", headers={"x-redlock-auth": token},
                                   json={"rrn": res["rrn"]})
        check("cspm/ResourceExplorer.json", "/resource", "post", response.json())


async def test_search_config_and_page(http: httpx.AsyncClient, token: str) -> None:
    body = {"query": "config from cloud.resource where cloud.type = 'aws'", "limit": 20,
            "timeRange": {"type": "to_now", "value": "epoch"}, "withResourceJson": True}
    assert not errors(request_validator("cspm/SearchMicroService.json", "/search/config", "post"),
                      body)
    first = (await http.post(f"{API}/search/config", headers={"x-redlock-auth": token},
                             json=body)).json()
    check("cspm/SearchMicroService.json", "/search/config", "post", first)
    page = await http.post(f"{API}/search/config/page", headers={"x-redlock-auth": token},
                           json={"limit": 20, "pageToken": first["data"]["nextPageToken"]})
    check("cspm/SearchMicroService.json", "/search/config/page", "post", page.json())


async def test_compute_authenticate(http: httpx.AsyncClient) -> None:
    body = {"username": "sim-access-key", "password": "sim-secret-key"}
    assert not errors(request_validator(CWPP, "/api/v34.03/authenticate", "post"), body)
    response = await http.post(f"{CONSOLE}/api/v34.03/authenticate", json=body)
    check(CWPP, "/api/v34.03/authenticate", "post", response.json())


@pytest.mark.parametrize("path", COMPUTE_LIST_ENDPOINTS)
async def test_compute_lists(http: httpx.AsyncClient, compute_token: str, path: str) -> None:
    response = await http.get(f"{CONSOLE}{path}", params={"limit": 250},
                              headers={"Authorization": f"Bearer {compute_token}"})
    body = response.json()
    assert body, f"{path} returned nothing to validate"
    check(CWPP, path, "get", body)


async def test_client_request_bodies_match_the_documented_request_models(
    settings: PrismaSettings, sim: PrismaCloudSimulator
) -> None:
    """What CspmClient sends to /login, /v2/alert, /alert/dismiss, /alert/reopen, /search/config."""
    sent: list[tuple[str, Any]] = []
    inner = httpx.ASGITransport(app=sim)

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await request.aread()
            if request.content:
                sent.append((request.url.path, json.loads(request.content)))
            return await inner.handle_async_request(request)

    async with httpx.AsyncClient(transport=Recording()) as http:
        async with CspmClient(settings, client=http) as cspm:
            _ = [p async for p in cspm.iter_alert_pages(
                {"alert.status": "open"}, TimeRange.relative(30, "day"), limit=100)]
            open_id = next(i for i, a in sorted(sim.alerts.items()) if a["status"] == "open")
            await cspm.dismiss_alerts([open_id], "note", snooze=TimeRange.relative(2, "hour"))
            await cspm.reopen_alerts([open_id])
            _ = [r async for r in cspm.search_config(
                "config from cloud.resource where cloud.type = 'gcp'")]
    models = {"/login": ("cspm/Login.json", "/login"),
              "/v2/alert": ("cspm/Alerts.json", "/v2/alert"),
              "/alert/dismiss": ("cspm/Alerts.json", "/alert/dismiss"),
              "/alert/reopen": ("cspm/Alerts.json", "/alert/reopen"),
              "/search/config": ("cspm/SearchMicroService.json", "/search/config")}
    assert {path for path, _ in sent} >= set(models)
    for path, body in sent:
        if path in models:
            doc, spec_path = models[path]
            problems = errors(request_validator(doc, spec_path, "post"), body)
            assert not problems, f"request to {path}: {problems}"


def test_the_validators_are_not_vacuous(sim: PrismaCloudSimulator) -> None:
    """Mutated payloads must fail, or the checks above prove nothing."""
    alert = dict(next(iter(sim.alerts.values())))
    page = {"totalRows": 1, "items": [{**alert, "status": "OPEN"}]}
    assert errors(response_validator("cspm/Alerts.json", "/v2/alert", "post"), page)
    host = {**sim.estate.compute.hosts[0], "cloudMetadata": {"provider": "amazon"}}
    assert errors(response_validator(CWPP, "/api/v34.03/hosts", "get"), [host])
    bad_range = {"filter": {"timeRange": {"type": "relative", "value": {"amount": 1,
                                                                          "unit": "fortnight"}}}}
    assert errors(request_validator("cspm/Alerts.json", "/alert/remediation", "post"), bad_range)


async def test_permission_search_and_page(http: httpx.AsyncClient, token: str, sim: PrismaCloudSimulator) -> None:
    """CIEM: what CspmClient.iter_permission_pages sends, and what the simulator answers."""
    instance = next(a["resource"]["id"] for _, a in sorted(sim.alerts.items())
                    if a["policy"]["policyType"] == "iam" and a["resource"]["id"].startswith("i-"))
    body = {"query": f"config from iam where source.cloud.resource.id = '{instance}'", "limit": 5}
    assert not errors(request_validator("cspm/IAMMicroService.json", "/api/v1/permission", "post"), body)
    first = (await http.post(f"{API}/api/v1/permission", headers={"x-redlock-auth": token}, json=body)).json()
    check("cspm/IAMMicroService.json", "/api/v1/permission", "post", first)
    page_body = {"pageToken": first["data"]["nextPageToken"], "limit": 5}
    assert not errors(request_validator("cspm/IAMMicroService.json", "/api/v1/permission/page", "post"), page_body)
    page = await http.post(f"{API}/api/v1/permission/page", headers={"x-redlock-auth": token}, json=page_body)
    check("cspm/IAMMicroService.json", "/api/v1/permission/page", "post", page.json())
    assert page.json()["items"] and "data" not in page.json()
    # The constructed CIEM fixture (tests/data/ciem) has the documented shape too, except for the nulls
    # it uses on purpose (a never-used lastAccessDate, the last page's token) so the parser is tested on them.
    fixture = SPEC_DIR.parent / "ciem" / "permissions_reporting_lambda.json"
    problems = errors(response_validator("cspm/IAMMicroService.json", "/api/v1/permission", "post"),
                      json.loads(fixture.read_text(encoding="utf-8")), limit=50)
    assert problems and all(p.endswith("None is not of type 'string'") and
                            p.split(":")[0].rsplit("/", 1)[-1] in ("lastAccessDate", "nextPageToken") for p in problems)
