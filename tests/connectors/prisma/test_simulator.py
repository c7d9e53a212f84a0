"""The simulator itself: estate realism and correlation, churn, admin API, webhooks, CLI."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.feeds.store import load_default_feeds
from connectors.prisma.simulator import (
    PrismaCloudSimulator,
    SimClock,
    compute_webhook,
    generate_estate,
    push_webhooks,
)
from connectors.prisma.simulator.__main__ import build
from connectors.prisma.simulator.catalog import KEV_CVES, OTHER_CVES
from connectors.prisma.simulator.query import decode_token
from tests.connectors.prisma.conftest import API, SimFactory



def test_same_seed_same_estate_different_seed_different() -> None:
    assert generate_estate(3, 200).alerts == generate_estate(3, 200).alerts
    assert generate_estate(3, 200).alerts != generate_estate(4, 200).alerts
    assert len(generate_estate(3, 25).alerts) == 25


def test_estate_covers_clouds_types_severities_and_statuses() -> None:
    estate = generate_estate(7, 500)
    alerts = list(estate.alerts.values())
    assert len(alerts) == 500 and len({a["id"] for a in alerts}) == 500
    assert {a["resource"]["cloudType"] for a in alerts} == {"aws", "azure", "gcp"}
    assert {a["policy"]["policyType"] for a in alerts} >= {
        "config", "network", "iam", "audit_event", "workload_vulnerability", "workload_incident"}
    assert {a["policy"]["severity"] for a in alerts} == {
        "critical", "high", "medium", "low", "informational"}
    assert {a["status"] for a in alerts} == {"open", "resolved", "dismissed", "snoozed"}
    assert len({a["resource"]["accountId"] for a in alerts}) >= 6
    assert len({a["resource"]["regionId"] for a in alerts}) >= 5
    assert all(a["reason"] == "SCHEDULED" for a in alerts
               if a["policy"]["policyType"] == "iam" and len(a["history"]) == 1)
    reopened = [a for a in alerts if [h["status"] for h in a["history"]] == [
        "open", "resolved", "open"]]
    assert reopened


def test_alerts_have_the_reference_example_shape() -> None:
    alert = next(iter(generate_estate(7, 50).alerts.values()))
    assert {"id", "status", "reason", "alertTime", "firstSeen", "lastSeen", "policy",
            "resource", "history", "policyId"} <= set(alert)
    assert {"policyId", "name", "policyType", "severity", "recommendation",
            "complianceMetadata"} <= set(alert["policy"])
    assert {"id", "rrn", "name", "account", "accountId", "cloudType", "region", "resourceType",
            "resourceApiName", "data", "resourceTags"} <= set(alert["resource"])
    assert alert["id"].startswith("P-")
    assert alert["resource"]["rrn"].startswith("rrn::")


def test_cves_are_real_kev_entries_and_others() -> None:
    kev = load_default_feeds().kev  # the shipped CISA KEV catalogue, every entry
    assert all(c.cve in kev for c in KEV_CVES)
    assert not any(c.cve in kev for c in OTHER_CVES)
    estate = generate_estate(7, 300)
    cves = {v["cve"] for h in estate.compute.hosts for v in h["vulnerabilities"]}
    assert cves & kev and cves - kev


def test_one_asset_is_joinable_across_cspm_and_compute() -> None:
    estate = generate_estate(7, 500)
    toxic = [w for w in estate.workloads if w.exposed and w.admin_role and w.exploitable]
    assert toxic
    kev = {c.cve for c in KEV_CVES}
    for w in toxic:
        on_asset = [a for a in estate.alerts.values()
                    if (a["resource"]["cloudType"], a["resource"]["accountId"],
                        a["resource"]["id"]) == (w.cloud, w.account_id, w.instance_id)]
        assert {a["resource"]["rrn"] for a in on_asset} == {w.rrn}
        assert {"iam"} <= {a["policy"]["policyType"] for a in on_asset}
        host = next(h for h in estate.compute.hosts
                    if h["cloudMetadata"]["resourceID"] == w.instance_id)
        assert (host["cloudMetadata"]["provider"], host["cloudMetadata"]["accountID"],
                host["cloudMetadata"]["region"], host["hostname"]) == (
                    w.cloud, w.account_id, w.region_id, w.hostname)
        assert {v["cve"] for v in host["vulnerabilities"]} & kev
        containers = [c for c in estate.compute.containers if c["hostname"] == w.hostname]
        assert all(c["info"]["cloudMetadata"]["resourceID"] == w.instance_id for c in containers)
    aws = [w for w in toxic if w.cloud == "aws"]
    assert aws
    for w in aws:
        instance = estate.resources[w.rrn]
        assert instance["data"]["privateDnsName"] == w.hostname
        sg_id = instance["data"]["securityGroups"][0]["groupId"]
        sg_alerts = [a for a in estate.alerts.values() if a["resource"]["id"] == sg_id]
        assert any("SSH" in a["policy"]["name"] for a in sg_alerts) or estate.candidates


def test_incidents_point_at_the_same_instance() -> None:
    estate = generate_estate(7, 500)
    ids = {w.instance_id for w in estate.workloads}
    assert estate.compute.incidents
    assert all(i["resourceID"] in ids and i["audits"] for i in estate.compute.incidents)


def test_churn_is_deterministic_and_realistic() -> None:
    def make() -> PrismaCloudSimulator:
        clock = SimClock(base=lambda: 1_718_010_000.0)
        return PrismaCloudSimulator(generate_estate(11, 300, now_ms=clock.now_ms()), clock=clock)

    a, b = make(), make()
    changes_a = [(x["id"], x["status"], x["reason"]) for x in a.advance(3600)]
    changes_b = [(x["id"], x["status"], x["reason"]) for x in b.advance(3600)]
    assert changes_a == changes_b and changes_a
    reasons = Counter(r for _, _, r in changes_a)
    assert reasons["NEW_ALERT"] + reasons["SCHEDULED"] > 0
    assert {"RESOURCE_UPDATED", "RESOURCE_DELETED", "POLICY_UPDATED"} & set(reasons)


async def test_admin_api_faults_stats_and_advance(sim: PrismaCloudSimulator,
                                                  http: httpx.AsyncClient) -> None:
    bad = await http.post(f"{API}/_sim/faults", json={"route": "/v2/alert", "kind": "boom"})
    assert bad.status_code == 400
    await http.post(f"{API}/_sim/faults",
                    json={"route": "/login", "kind": "5xx", "count": 1, "status": 502})
    first = await http.post(f"{API}/login", json={"username": "x", "password": "y"})
    second = await http.post(f"{API}/login", json={"username": "x", "password": "y"})
    assert (first.status_code, second.status_code) == (502, 401)
    stats = (await http.get(f"{API}/_sim/stats")).json()
    assert stats["routes"]["POST /login"] == {"calls": 2, "statuses": {"502": 1, "401": 1}}
    advanced = (await http.post(f"{API}/_sim/advance", json={"seconds": 600})).json()
    assert advanced["changed"] and advanced["now_ms"] == sim.clock.now_ms()
    workloads = (await http.get(f"{API}/_sim/workloads")).json()
    assert len(workloads) == len(sim.estate.workloads)


async def test_cspm_protocol_details(sim: PrismaCloudSimulator, http: httpx.AsyncClient) -> None:
    assert (await http.post(f"{API}/v2/alert", json={})).status_code == 401
    token = (await http.post(f"{API}/login", json={"username": "sim-access-key",
                                                    "password": "sim-secret-key"})).json()["token"]
    auth = {"x-redlock-auth": token}
    missing = await http.get(f"{API}/v2/alert", headers=auth)
    assert missing.status_code == 400
    assert json.loads(missing.headers["x-redlock-status"])[0]["i18nKey"] == \
        "missing_required_parameter"
    page = (await http.post(f"{API}/v2/alert", headers=auth, json={"limit": 3})).json()
    doc = decode_token(page["nextPageToken"], sim.config.secret)
    assert doc["searchAfter"] and doc["timeRange"]["type"] == "absolute"  # like the real token
    forged = page["nextPageToken"][:-4] + "AAAA"
    assert (await http.post(f"{API}/v2/alert", headers=auth,
                            json={"pageToken": forged})).status_code == 400
    too_big = await http.post(f"{API}/v2/alert", headers=auth, json={"limit": 10_001})
    assert too_big.status_code == 400
    count = (await http.get(f"{API}/alert/count/open", headers=auth)).json()
    assert count["count"] == sum(1 for a in sim.alerts.values() if a["status"] == "open")


async def test_compute_accepts_basic_and_cspm_tokens(http: httpx.AsyncClient) -> None:
    url = "https://console.compute.sim/api/v1/hosts"
    assert (await http.get(url, auth=("sim-access-key", "sim-secret-key"))).status_code == 200
    assert (await http.get(url, auth=("sim-access-key", "nope"))).status_code == 401
    token = (await http.post(f"{API}/login", json={"username": "sim-access-key",
                                                    "password": "sim-secret-key"})).json()["token"]
    assert (await http.get(url, headers={"x-redlock-auth": token})).status_code == 200
    denied = await http.get(url)
    assert denied.status_code == 401 and "err" in denied.json()


async def test_push_webhooks_posts_what_prisma_posts(sim: PrismaCloudSimulator) -> None:
    received: list[tuple[dict[str, str], Any]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), json.loads(await request.body())))
        return Response(status_code=202)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    alerts = list(sim.alerts.values())[:12]
    host = sim.estate.compute.hosts[0]
    incident = sim.estate.compute.incidents[0]
    events = [compute_webhook(host, "host_vulnerability"), compute_webhook(incident, "incident")]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver)) as client:
        statuses = await push_webhooks("http://receiver/hook", alerts, ("X-Token", "s3cret"),
                                       compute_events=events, client=client, batch_size=5,
                                       basic_auth=("hook", "pw"))
    assert statuses == [202] * 5
    batches = [body for _, body in received[:3]]
    assert all(isinstance(b, list) for b in batches) and [len(b) for b in batches] == [5, 5, 2]
    assert all(h["x-token"] == "s3cret" for h, _ in received[:3])
    note = batches[0][0]
    assert {"alertId", "alertStatus", "reason", "policyName", "severity", "cloudType",
            "accountId", "resourceId", "resource", "callbackUrl", "firstSeen"} <= set(note)
    assert note["alertId"] == alerts[0]["id"] and note["resource"]["rrn"]
    vuln_headers, vuln = received[3]
    assert vuln_headers["authorization"].startswith("Basic ")
    assert vuln["type"] == "Host Vulnerability" and vuln["vulnerabilities"][0]["hostname"]
    assert set(vuln) == set(received[4][1])  # one template for every event type
    assert received[4][1]["aggregatedAlerts"] and received[4][1]["host"] == incident["hostname"]


def test_cli_builds_a_simulator() -> None:
    sim, args = build(["--port", "8282", "--seed", "3", "--alerts", "40",
                       "--user", "k:s", "--no-rate-limits"])
    assert (args.port, len(sim.alerts), sim.config.users) == (8282, 40, {"k": "s"})
    assert not sim.config.rate_limits


def test_clock_only_moves_forward() -> None:
    clock = SimClock(base=lambda: 0.0)
    clock.advance(5)
    assert clock.now() == 5.0
    with pytest.raises(ValueError):
        clock.advance(-1)
