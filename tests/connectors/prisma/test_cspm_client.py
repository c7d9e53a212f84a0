"""The CSPM client against the simulator: auth lifecycle, paging, filters, actions, retries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    UnexpectedStatusError,
)
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.models import AlertFilter, TimeRange
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock
from connectors.prisma.simulator.catalog import POLICIES
from tests.connectors.prisma.conftest import API, sim_stats

DAY_MS = 86_400_000


async def collect(cspm: CspmClient, **kw: Any) -> list[dict[str, Any]]:
    return [a async for a in cspm.list_alerts(**kw)]


# -- authentication -------------------------------------------------------------------------------


async def test_first_call_logs_in_and_sends_the_token(cspm: CspmClient, http: httpx.AsyncClient) -> None:
    await cspm.get_alert(next(iter(cspm_sim_alert_ids(http))))
    stats = await sim_stats(http)
    assert stats["POST /login"]["calls"] == 1
    assert stats["GET /alert/{id}"]["statuses"] == {"200": 1}


def cspm_sim_alert_ids(http: httpx.AsyncClient) -> list[str]:
    transport = http._transport
    assert isinstance(transport, httpx.ASGITransport)
    sim = transport.app
    assert isinstance(sim, PrismaCloudSimulator)
    return sorted(sim.alerts)


async def _read_an_alert_between(cspm: CspmClient, sim: PrismaCloudSimulator, http: httpx.AsyncClient,
                                 *steps: Callable[[], object]) -> dict[str, Any]:
    """Read one alert, then again after each step (a clock move, an expiry); the simulator's stats."""
    alert_id = sorted(sim.alerts)[0]
    await cspm.get_alert(alert_id)
    for step in steps:
        step()
        await cspm.get_alert(alert_id)
    return await sim_stats(http)


async def test_token_is_extended_before_it_expires(
    cspm: CspmClient, sim: PrismaCloudSimulator, clock: SimClock, http: httpx.AsyncClient
) -> None:
    stats = await _read_an_alert_between(
        cspm, sim, http,
        lambda: clock.advance(545),  # past ttl (600) - margin (60)
        lambda: clock.advance(545))  # the extended token is good for another 600 s
    assert stats["POST /login"]["calls"] == 1
    assert stats["GET /auth_token/extend"]["statuses"] == {"200": 2}
    assert (cspm.logins, cspm.extensions) == (1, 2)


async def test_a_token_past_its_lifetime_is_replaced_by_a_new_login(
    cspm: CspmClient, sim: PrismaCloudSimulator, clock: SimClock, http: httpx.AsyncClient
) -> None:
    stats = await _read_an_alert_between(cspm, sim, http, lambda: clock.advance(900))
    assert stats["POST /login"]["calls"] == 2
    assert "GET /auth_token/extend" not in stats


async def test_refused_extension_falls_back_to_login(
    cspm: CspmClient, sim: PrismaCloudSimulator, clock: SimClock, http: httpx.AsyncClient
) -> None:
    stats = await _read_an_alert_between(cspm, sim, http, lambda: (clock.advance(550), sim.expire_tokens()))
    assert stats["GET /auth_token/extend"]["statuses"] == {"401": 1}
    assert stats["POST /login"]["calls"] == 2


async def test_server_side_expired_tokens_trigger_one_relogin(
    cspm: CspmClient, sim: PrismaCloudSimulator, http: httpx.AsyncClient
) -> None:
    alert_id = sorted(sim.alerts)[0]
    await cspm.get_alert(alert_id)
    response = await http.post(f"{API}/_sim/faults",
                               json={"route": "*", "kind": "expire_tokens"})
    assert response.status_code == 200
    alert = await cspm.get_alert(alert_id)
    assert alert["id"] == alert_id
    stats = await sim_stats(http)
    assert stats["GET /alert/{id}"]["statuses"] == {"200": 2, "401": 1}
    assert stats["POST /login"]["calls"] == 2


async def test_a_second_401_raises_authentication_error(
    cspm: CspmClient, sim: PrismaCloudSimulator, http: httpx.AsyncClient
) -> None:
    await http.post(f"{API}/_sim/faults", json={"route": "/alert/{id}", "kind": "401", "count": 2})
    with pytest.raises(AuthenticationError) as info:
        await cspm.get_alert(sorted(sim.alerts)[0])
    assert info.value.status_code == 401
    assert (await sim_stats(http))["POST /login"]["calls"] == 2


async def test_wrong_secret_fails_login_with_invalid_credentials(
    settings: PrismaSettings, http: httpx.AsyncClient
) -> None:
    bad = settings.model_copy(update={"password": SecretStr("wrong")})
    async with CspmClient(bad, client=http) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.login()
    assert "invalid_credentials" in info.value.body_excerpt


async def test_tokens_and_secrets_never_reach_the_logs(
    cspm: CspmClient, sim: PrismaCloudSimulator, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await cspm.login()
    clock.advance(560)
    await collect(cspm, limit=100)
    tokens = list(sim.tokens._tokens)
    assert tokens
    assert all(t not in caplog.text for t in tokens)
    assert "sim-secret-key" not in caplog.text


# -- paging ---------------------------------------------------------------------------------------


async def test_full_paging_returns_every_alert_exactly_once(
    cspm: CspmClient, sim: PrismaCloudSimulator
) -> None:
    alerts = await collect(cspm, limit=37)
    ids = [a["id"] for a in alerts]
    assert len(ids) == len(set(ids)) == len(sim.alerts)
    assert set(ids) == set(sim.alerts)
    times = [a["alertTime"] for a in alerts]
    assert times == sorted(times)  # default sortBy alertTime:asc


async def test_pages_expose_tokens_for_checkpointing_and_resume(cspm: CspmClient,
                                                                 sim: PrismaCloudSimulator) -> None:
    seen: list[str] = []
    checkpoint = None
    async for page in cspm.iter_alert_pages(limit=40):
        assert page.total_rows == len(sim.alerts)
        seen += [a["id"] for a in page.items]
        checkpoint = page.next_page_token
        if page.page_number == 1:
            break  # crash after committing page 2
    assert checkpoint is not None
    async for page in cspm.iter_alert_pages(limit=40, page_token=checkpoint):
        assert page.page_token is not None
        seen += [a["id"] for a in page.items]
    assert sorted(seen) == sorted(sim.alerts) and len(seen) == len(set(seen))


async def test_paging_is_stable_while_the_estate_changes(
    cspm: CspmClient, sim: PrismaCloudSimulator
) -> None:
    before = {a["id"]: a["status"] for a in sim.alerts.values() if a["status"] == "open"}
    seen: list[dict[str, Any]] = []
    async for page in cspm.iter_alert_pages({"alert.status": "open"}, limit=25):
        seen += page.items
        if page.page_number == 0:
            changed = sim.advance(540)  # resolves, dismisses, creates alerts mid-scan
            assert {a["id"] for a in changed} & set(before)
    ids = [str(a["id"]) for a in seen]
    assert len(ids) == len(set(ids)) and set(ids) == set(before)
    assert all(a["status"] == "open" for a in seen)  # the snapshot as of page one


async def test_an_expired_page_token_is_a_bad_request(
    cspm: CspmClient, clock: SimClock
) -> None:
    token = None
    async for page in cspm.iter_alert_pages(limit=10):
        token = page.next_page_token
        break
    clock.advance(601)
    with pytest.raises(BadRequestError) as info:
        _ = [p async for p in cspm.iter_alert_pages(limit=10, page_token=token)]
    assert "pageToken" in info.value.body_excerpt


# -- filters and time ranges ----------------------------------------------------------------------


async def test_filters_same_name_or_different_names_and(cspm: CspmClient,
                                                         sim: PrismaCloudSimulator) -> None:
    got = await collect(cspm, filters={"alert.status": "open", "cloud.type": ["aws", "gcp"],
                                       "policy.severity": ["high", "critical"]})
    expected = {a["id"] for a in sim.alerts.values() if a["status"] == "open"
                and a["resource"]["cloudType"] in ("aws", "gcp")
                and a["policy"]["severity"] in ("high", "critical")}
    assert expected and {a["id"] for a in got} == expected


@pytest.mark.parametrize(
    ("name", "value", "path"),
    [("policy.type", "iam", ("policy", "policyType")),
     ("policy.type", "audit_event", ("policy", "policyType")),
     ("cloud.account", "aws-prod-payments", ("resource", "account")),
     ("cloud.region", "GCP Iowa", ("resource", "region"))],
)
async def test_single_filters(cspm: CspmClient, sim: PrismaCloudSimulator, name: str, value: str,
                              path: tuple[str, str]) -> None:
    got = await collect(cspm, filters=[AlertFilter(name=name, value=value)])
    expected = {a["id"] for a in sim.alerts.values() if a[path[0]][path[1]] == value}
    assert expected and {a["id"] for a in got} == expected


async def test_alert_id_filter(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    wanted = sorted(sim.alerts)[:3]
    got = await collect(cspm, filters={"alert.id": wanted})
    assert sorted(a["id"] for a in got) == wanted


async def test_relative_and_absolute_time_ranges(cspm: CspmClient, sim: PrismaCloudSimulator,
                                                 clock: SimClock) -> None:
    now = clock.now_ms()
    week = await collect(cspm, time_range=TimeRange.relative(7, "day"))
    assert {a["id"] for a in week} == {
        a["id"] for a in sim.alerts.values() if a["alertTime"] >= now - 7 * DAY_MS}
    start, end = now - 20 * DAY_MS, now - 10 * DAY_MS
    window = await collect(cspm, time_range=TimeRange.absolute(start, end))
    expected = {a["id"] for a in sim.alerts.values() if start <= a["alertTime"] <= end}
    assert expected and {a["id"] for a in window} == expected


async def test_unknown_filter_is_rejected(cspm: CspmClient) -> None:
    with pytest.raises(BadRequestError) as info:
        await collect(cspm, filters={"alert.colour": "red"})
    assert "invalid_parameter_value" in info.value.body_excerpt


async def test_detailed_false_returns_the_slim_policy(cspm: CspmClient) -> None:
    alerts = await collect(cspm, detailed=False, limit=500)
    assert all(set(a["policy"]) == {"policyId", "policyType", "systemDefault", "remediable"}
               for a in alerts)


# -- single objects and actions -------------------------------------------------------------------


async def test_get_alert_and_not_found(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    alert_id = sorted(sim.alerts)[5]
    alert = await cspm.get_alert(alert_id)
    assert alert["id"] == alert_id and "recommendation" in alert["policy"]
    with pytest.raises(NotFoundError):
        await cspm.get_alert("P-1")


async def test_dismiss_then_reopen_changes_status(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    ids = sorted(i for i, a in sim.alerts.items() if a["status"] == "open")[:2]
    await cspm.dismiss_alerts(ids, "Accepted risk (SEC-42)")
    for alert_id in ids:
        alert = await cspm.get_alert(alert_id)
        assert (alert["status"], alert["reason"]) == ("dismissed", "USER_DISMISSED")
        assert alert["dismissalNote"] == "Accepted risk (SEC-42)"
    dismissed = await collect(cspm, filters={"alert.status": "dismissed", "alert.id": ids})
    assert len(dismissed) == 2
    await cspm.reopen_alerts(ids)
    for alert_id in ids:
        alert = await cspm.get_alert(alert_id)
        assert (alert["status"], alert["reason"]) == ("open", "USER_REOPENED")


async def test_snooze_reopens_itself(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    alert_id = sorted(i for i, a in sim.alerts.items() if a["status"] == "open")[0]
    await cspm.dismiss_alerts([alert_id], "later", snooze=TimeRange.relative(1, "hour"))
    assert (await cspm.get_alert(alert_id))["status"] == "snoozed"
    sim.advance(3700)
    alert = await cspm.get_alert(alert_id)
    assert alert["status"] == "open" and alert["reason"] == "SNOOZED_AUTO_REOPEN"


async def test_dismissing_a_resolved_alert_is_404(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    resolved = sorted(i for i, a in sim.alerts.items() if a["status"] == "resolved")[0]
    with pytest.raises(NotFoundError) as info:
        await cspm.dismiss_alerts([resolved], "x")
    assert "alert_no_longer_in_expected_state" in info.value.body_excerpt


async def test_remediation_cli_and_remediate(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    fixable = sorted(i for i, a in sim.alerts.items()
                     if a["status"] == "open" and POLICIES[a["policyId"]].remediable)
    cli = await cspm.remediation_cli([fixable[0]])
    resource = sim.alerts[fixable[0]]["resource"]
    assert cli.cliScript and resource["regionId"] in cli.cliScript
    assert set(cli.alertIdVsCliScript) == {fixable[0]}
    await cspm.remediate(fixable[0])
    alert = await cspm.get_alert(fixable[0])
    assert (alert["status"], alert["reason"]) == ("resolved", "REMEDIATED")
    unfixable = sorted(i for i, a in sim.alerts.items()
                       if a["status"] == "open" and not POLICIES[a["policyId"]].remediable)
    with pytest.raises(UnexpectedStatusError) as info:
        await cspm.remediate(unfixable[0])
    assert info.value.status_code == 405


async def test_get_resource_by_rrn(cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    alert = sim.alerts[sorted(sim.alerts)[0]]
    resource = await cspm.get_resource(alert["resource"]["rrn"])
    assert resource["id"] == alert["resource"]["id"]
    assert resource["data"] == alert["resource"]["data"]
    with pytest.raises(NotFoundError):
        await cspm.get_resource("rrn::instance:nowhere:0:0:i-0")


async def test_search_config_pages_through_rql_results(cspm: CspmClient,
                                                        sim: PrismaCloudSimulator) -> None:
    rql = ("config from cloud.resource where cloud.type = 'aws' AND "
           "api.name = 'aws-ec2-describe-security-groups' AND json.rule = "
           "ipPermissions[?(@.toPort == 22 || @.fromPort == 22)].ipRanges[*] contains 0.0.0.0/0")
    pages = [p async for p in cspm.iter_search_config_pages(rql, limit=1)]
    found = [r for p in pages for r in p.items]
    expected = {r["rrn"] for r in sim.estate.resources.values()
                if r["kind"] == "aws_sg" and "0.0.0.0/0" in r["data"]["ipPermissions"][0]["ipRanges"]}
    assert len(pages) > 1 and len(found) == len(expected)
    assert {r["rrn"] for r in found} == expected


async def test_unsupported_rql_is_a_bad_request_with_prisma_detail(cspm: CspmClient) -> None:
    with pytest.raises(BadRequestError) as info:
        _ = [r async for r in cspm.search_config("network from vpc.flow_record where bytes > 0")]
    assert "x-redlock-status" in info.value.body_excerpt


# -- resilience -----------------------------------------------------------------------------------


async def test_a_5xx_burst_on_v2_alert_is_retried(cspm: CspmClient, sim: PrismaCloudSimulator,
                                                  http: httpx.AsyncClient, sleeps: list[float]) -> None:
    await http.post(f"{API}/_sim/faults", json={"route": "/v2/alert", "kind": "5xx", "count": 2})
    alerts = await collect(cspm, limit=1000)
    assert len(alerts) == len(sim.alerts)
    stats = await sim_stats(http)
    assert stats["POST /v2/alert"] == {"calls": 3, "statuses": {"503": 2, "200": 1}}
    assert sleeps == [0.5, 1.0]  # rng pinned to 1.0: the jitter ceiling


async def test_injected_429_with_retry_after_is_honoured(
    cspm: CspmClient, http: httpx.AsyncClient, sleeps: list[float]
) -> None:
    await http.post(f"{API}/_sim/faults",
                    json={"route": "/v2/alert", "kind": "429", "retry_after_s": 3})
    await collect(cspm, limit=1000)
    assert sleeps == [3.0]


async def test_rate_limits_are_respected_by_backing_off(
    cspm: CspmClient, sim: PrismaCloudSimulator, http: httpx.AsyncClient, sleeps: list[float]
) -> None:
    alerts = await collect(cspm, limit=10)  # 30 pages against burst 10, 2 per second
    assert len(alerts) == len(sim.alerts)
    stats = await sim_stats(http)
    assert stats["POST /v2/alert"]["statuses"]["429"] > 0
    assert set(sleeps) == {0.5}  # 1 requested token / 2 per second, from X-RateLimit-*
