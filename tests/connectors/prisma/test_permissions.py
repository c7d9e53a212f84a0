"""CIEM permission search: the CSPM client pages through it, the simulator answers it, errors map."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import AuthenticationError, BadRequestError, ResponseFormatError
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.permissions import PrismaPermissionSearch, identity_query
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator
from processors.remediation.least_privilege import PermissionRecord
from tests.connectors.prisma.conftest import API, sim_stats
from tests.processors.remediation.ciem_support import RECORDS_FILE, ROLE

ADMIN_POLICY = "AWS EC2 instance with IAM role having administrative permissions (*:*)"


@asynccontextmanager
async def _client_answered_by(answer: Callable[[httpx.Request], httpx.Response]) -> AsyncIterator[CspmClient]:
    """A CspmClient whose logins succeed and whose other calls ``answer`` serves."""
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": "t"}) if request.url.path == "/login" else answer(request)

    settings = PrismaSettings(api_url=API, username="k", password=SecretStr("s"), compute_url="https://c.sim")
    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        async with CspmClient(settings, client=http) as cspm:
            yield cspm


def _ciem_alert(sim: PrismaCloudSimulator) -> dict[str, object]:
    return next(a for _, a in sorted(sim.alerts.items()) if a["policy"]["name"] == ADMIN_POLICY)


async def test_the_simulator_emits_ciem_alerts_on_instances_whose_role_it_names(sim: PrismaCloudSimulator) -> None:
    alert = _ciem_alert(sim)
    assert alert["policy"]["policyType"] == "iam"  # type: ignore[index]
    assert str(alert["metadata"]["roleArn"]).startswith("arn:aws:iam::")  # type: ignore[index]


async def test_all_permissions_of_an_instance_come_back_across_pages(
        cspm: CspmClient, sim: PrismaCloudSimulator, http: httpx.AsyncClient) -> None:
    alert = _ciem_alert(sim)
    instance = alert["resource"]["id"]  # type: ignore[index]
    pages = [p async for p in cspm.iter_permission_pages(identity_query(instance), limit=7)]
    items = [i for p in pages for i in p.items]
    assert len(pages) > 2 and pages[0].total_rows == len(items)
    assert [p.next_page_token is None for p in pages] == [False] * (len(pages) - 1) + [True]
    assert len({i["id"] for i in items}) == len(items)  # no record twice, none lost between pages
    assert {i["sourceResourceId"] for i in items} == {instance}
    role = alert["metadata"]["roleArn"]  # type: ignore[index]
    assert {i["grantedByCloudEntityId"] for i in items} == {role}
    assert {i["grantedByCloudPolicyName"] for i in items} == {"AdministratorAccess"}
    used = [i for i in items if i["lastAccessDate"]]
    never = [i for i in items if not i["lastAccessDate"]]
    assert 4 <= len(used) < len(never)  # a realistic mix: most of an admin grant is never used
    stats = await sim_stats(http)
    assert stats["POST /api/v1/permission"]["calls"] == 1
    assert stats["POST /api/v1/permission/page"]["calls"] == len(pages) - 1


async def test_the_port_parses_every_record_and_the_same_identity_gets_the_same_records(
        cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    role = str(_ciem_alert(sim)["metadata"]["roleArn"])  # type: ignore[index]
    search = PrismaPermissionSearch(cspm, page_size=5)
    first = await search.permissions_of(role)
    assert first and {r.source_resource_id for r in first} == {role}
    assert any(r.last_access is None for r in first) and any(r.last_access is not None for r in first)
    assert await search.permissions_of(role) == first
    assert await search.permissions_of("arn:aws:iam::123456789012:role/not-in-the-estate") == ()


@pytest.mark.parametrize("identity", [
    "arn:aws:iam::1:role/x' or source.cloud.type = 'AWS",
    "role name with spaces",
    "arn:aws:iam::1:role/x\n",
    "",
])
def test_an_identity_that_could_change_the_query_is_refused_before_any_call(identity: str) -> None:
    with pytest.raises(BadRequestError):
        identity_query(identity)


async def test_unsupported_rql_is_a_bad_request(cspm: CspmClient) -> None:
    with pytest.raises(BadRequestError) as info:
        _ = [p async for p in cspm.iter_permission_pages("config from iam where action.lastaccess.days > 5")]
    assert info.value.status_code == 400


async def test_an_expired_page_token_is_a_bad_request(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    pages = cspm.iter_permission_pages(identity_query(str(_ciem_alert(sim)["resource"]["id"])), limit=3)  # type: ignore[index]
    await anext(pages)
    sim.snapshots.clear()
    with pytest.raises(BadRequestError):
        await anext(pages)


async def test_a_rejected_token_twice_raises_authentication_error(
        cspm: CspmClient, http: httpx.AsyncClient) -> None:
    await http.post(f"{API}/_sim/faults", json={"route": "/api/v1/permission", "kind": "401", "count": 2})
    with pytest.raises(AuthenticationError):
        await PrismaPermissionSearch(cspm).permissions_of("arn:aws:iam::123456789012:role/x")


async def test_server_errors_are_retried(cspm: CspmClient, sim: PrismaCloudSimulator,
                                         http: httpx.AsyncClient) -> None:
    await http.post(f"{API}/_sim/faults", json={"route": "/api/v1/permission/page", "kind": "5xx", "count": 2})
    records = await PrismaPermissionSearch(cspm, page_size=4).permissions_of(
        str(_ciem_alert(sim)["resource"]["id"]))  # type: ignore[index]
    assert records
    statuses = (await sim_stats(http))["POST /api/v1/permission/page"]["statuses"]
    assert sum(n for status, n in statuses.items() if status.startswith("5")) == 2


async def test_a_record_without_its_identity_fails_the_whole_search() -> None:
    page = {"data": {"items": [{"effectiveActionName": "s3:GetObject"}]}}
    async with _client_answered_by(lambda request: httpx.Response(200, json=page)) as cspm:
        with pytest.raises(ResponseFormatError, match="does not parse"):
            await PrismaPermissionSearch(cspm).permissions_of("arn:aws:iam::123456789012:role/x")


async def test_a_page_token_answered_again_stops_the_paging() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = {"items": [], "nextPageToken": "same"}
        return httpx.Response(200, json={"data": page} if request.url.path == "/api/v1/permission" else page)

    async with _client_answered_by(answer) as cspm:
        with pytest.raises(ResponseFormatError, match="same page token"):
            await cspm.search_permissions("config from iam where source.cloud.resource.id = 'x'")


async def test_a_role_asked_by_its_arn_or_through_its_instance_has_the_same_grants_and_use(
        cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    alert = _ciem_alert(sim)
    search = PrismaPermissionSearch(cspm)
    by_instance = await search.permissions_of(str(alert["resource"]["id"]))  # type: ignore[index]
    by_role = await search.permissions_of(str(alert["metadata"]["roleArn"]))  # type: ignore[index]

    def view(records: tuple[PermissionRecord, ...]) -> set[tuple[str, str, object]]:
        return {(r.effective_action_name, r.granted_by_policy_id, r.last_access) for r in records}

    assert by_instance and view(by_instance) == view(by_role)


async def test_the_constructed_permission_fixture_parses_through_the_port_across_two_pages() -> None:
    """tests/data/ciem (built from PermissionDto, see its README) served as Prisma pages it."""
    body = json.loads(RECORDS_FILE.read_text(encoding="utf-8"))
    items = body["data"]["items"]
    sent: list[tuple[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, json.loads(request.content)))
        if request.url.path == "/api/v1/permission":
            return httpx.Response(200, json={"data": {"items": items[:5], "nextPageToken": "t1", "totalRows": 9}})
        return httpx.Response(200, json={"items": items[5:], "totalRows": 9})

    async with _client_answered_by(answer) as cspm:
        records = await PrismaPermissionSearch(cspm, page_size=5).permissions_of(ROLE)
    assert sent == [("/api/v1/permission", {"query": f"config from iam where source.cloud.resource.id = '{ROLE}'",
                                            "limit": 5}),
                    ("/api/v1/permission/page", {"pageToken": "t1", "limit": 5})]
    assert [r.effective_action_name for r in records] == [i["effectiveActionName"] for i in items]
    assert records[0].last_access == datetime(2026, 11, 28, 6, tzinfo=UTC)
    never = [r.effective_action_name for r in records if r.last_access is None]
    assert never == ["iam:CreateUser", "iam:PassRole", "ec2:RunInstances"]
    assert {r.granted_by_entity_id for r in records if r.source_resource_id == ROLE} == {ROLE}
