"""The executor's re-check asks the Prisma Cloud API (the simulator) whether the fixed alert is resolved."""

from __future__ import annotations

import httpx

from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.recheck import recheck_alert
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock
from processors.remediation.followup import RecheckStatus
from tests.connectors.prisma.conftest import API


def _open_alert(sim: PrismaCloudSimulator) -> str:
    return next(alert_id for alert_id, alert in sorted(sim.alerts.items()) if alert["status"] == "open")


async def test_the_simulator_marks_an_alert_resolved_the_way_a_rescan_does(
        sim: PrismaCloudSimulator, http: httpx.AsyncClient) -> None:
    alert_id = _open_alert(sim)
    answer = await http.post(f"{API}/_sim/alerts/{alert_id}/status", json={"status": "resolved"})
    assert answer.status_code == 200 and answer.json()["reason"] == "RESOURCE_UPDATED"
    assert sim.alerts[alert_id]["status"] == "resolved"
    assert sim.alerts[alert_id]["history"][-1]["status"] == "resolved"
    assert (await http.post(f"{API}/_sim/alerts/P-0/status", json={"status": "resolved"})).status_code == 404
    assert (await http.post(f"{API}/_sim/alerts/{alert_id}/status", json={"status": "gone"})).status_code == 400


async def test_a_resolved_alert_is_reported_resolved(sim: PrismaCloudSimulator, http: httpx.AsyncClient,
                                                     cspm: CspmClient) -> None:
    alert_id = _open_alert(sim)
    await http.post(f"{API}/_sim/alerts/{alert_id}/status", json={"status": "resolved", "reason": "REMEDIATED"})
    recheck = await recheck_alert(cspm, alert_id)
    assert recheck.status is RecheckStatus.RESOLVED and recheck.reason == "REMEDIATED" and recheck.attempts == 1


async def test_an_open_alert_is_asked_again_until_the_scan_resolves_it(
        sim: PrismaCloudSimulator, http: httpx.AsyncClient, cspm: CspmClient, clock: SimClock) -> None:
    alert_id = _open_alert(sim)
    asked: list[float] = []

    async def wait_then_rescan(seconds: float) -> None:
        asked.append(seconds)
        if len(asked) == 2:  # the scan runs while the re-check waits for the second time
            await http.post(f"{API}/_sim/alerts/{alert_id}/status", json={"status": "resolved"})

    recheck = await recheck_alert(cspm, alert_id, attempts=5, interval_s=30.0, sleep=wait_then_rescan)
    assert recheck.status is RecheckStatus.RESOLVED and recheck.attempts == 3 and asked == [30.0, 30.0]

    still = await recheck_alert(cspm, _open_alert(sim), attempts=2, interval_s=1.0, sleep=clock.sleep)
    assert still.status is RecheckStatus.STILL_OPEN and still.attempts == 2


async def test_an_unknown_alert_or_an_unreachable_api_is_reported_not_raised(
        sim: PrismaCloudSimulator, http: httpx.AsyncClient, cspm: CspmClient) -> None:
    assert (await recheck_alert(cspm, "P-0")).status is RecheckStatus.NOT_FOUND
    await http.post(f"{API}/_sim/faults", json=[{"route": "/alert/{id}", "kind": "5xx", "status": 503, "count": 20}])
    assert len(sim.faults) == 1
    unreachable = await recheck_alert(cspm, _open_alert(sim))
    assert unreachable.status is RecheckStatus.UNREACHABLE and unreachable.detail
