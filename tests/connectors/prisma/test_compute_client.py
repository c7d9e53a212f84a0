"""The Compute client against the simulator: auth, limit/offset paging, re-auth, rate limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.base import BadRequestError
from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock
from tests.connectors.prisma.conftest import SimFactory, sim_stats


async def test_authenticates_once_and_pages_hosts_with_total_count(
    compute: ComputeClient, sim: PrismaCloudSimulator, http: httpx.AsyncClient
) -> None:
    pages = [p async for p in compute.iter_hosts(page_size=4)]
    hosts = [h for p in pages for h in p.items]
    expected = len(sim.estate.compute.hosts)
    assert all(p.total_count == expected for p in pages)
    assert [p.offset for p in pages] == list(range(0, expected, 4))
    assert len(hosts) == expected == len({h["_id"] for h in hosts})
    assert compute.authentications == 1
    stats = await sim_stats(http)
    assert stats["POST /api/v1/authenticate"]["calls"] == 1
    assert stats["GET /api/v1/hosts"]["calls"] == len(pages)


async def test_images_and_containers_carry_vulnerabilities_and_hosts(
    compute: ComputeClient, sim: PrismaCloudSimulator
) -> None:
    images = [i async for p in compute.iter_images(page_size=2) for i in p.items]
    containers = [c async for p in compute.iter_containers() for c in p.items]
    assert len(images) == len(sim.estate.compute.images)
    assert all(i["vulnerabilities"] for i in images)
    hostnames = {h["hostname"] for h in sim.estate.compute.hosts}
    assert containers and all(c["hostname"] in hostnames for c in containers)


async def test_runtime_audits_and_time_window(compute: ComputeClient, sim: PrismaCloudSimulator,
                                              clock: SimClock) -> None:
    host_audits = [a async for p in compute.iter_runtime_audits("host", page_size=5)
                   for a in p.items]
    assert len(host_audits) == len(sim.estate.compute.audits["host"])
    since = datetime.fromtimestamp(clock.now(), tz=timezone.utc) - timedelta(days=2)
    recent = [a async for p in compute.iter_runtime_audits("host", since=since) for a in p.items]
    cutoff = since.isoformat().replace("+00:00", "Z")
    assert {a["_id"] for a in recent} == {
        a["_id"] for a in sim.estate.compute.audits["host"] if a["time"] >= cutoff[:23]}


async def test_incidents_default_to_unacknowledged_and_can_be_archived(
    compute: ComputeClient, sim: PrismaCloudSimulator
) -> None:
    incidents = [i async for p in compute.iter_incidents() for i in p.items]
    assert len(incidents) == len(sim.estate.compute.incidents) > 0
    await compute.acknowledge_incident(incidents[0]["_id"])
    left = [i async for p in compute.iter_incidents() for i in p.items]
    archived = [i async for p in compute.iter_incidents(acknowledged=True) for i in p.items]
    assert [i["_id"] for i in archived] == [incidents[0]["_id"]]
    assert len(left) == len(incidents) - 1


async def test_expired_token_is_replaced_after_a_401(
    compute: ComputeClient, sim: PrismaCloudSimulator, http: httpx.AsyncClient
) -> None:
    _ = [p async for p in compute.iter_images()]
    sim.expire_tokens()
    _ = [p async for p in compute.iter_images()]
    assert compute.authentications == 2
    stats = await sim_stats(http)
    assert stats["GET /api/v1/images"]["statuses"]["401"] == 1


async def test_token_older_than_its_lifetime_is_renewed_proactively(
    compute: ComputeClient, clock: SimClock, http: httpx.AsyncClient
) -> None:
    _ = [p async for p in compute.iter_images()]
    clock.advance(601)
    _ = [p async for p in compute.iter_images()]
    assert compute.authentications == 2
    assert "401" not in (await sim_stats(http))["GET /api/v1/images"]["statuses"]


async def test_scan_rate_limit_is_survived(
    make_sim: SimFactory, settings: PrismaSettings, clock: SimClock
) -> None:
    sim = make_sim(n_alerts=800)  # 40 hosts: more pages than 30 requests per 30 s allow
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        async with ComputeClient(settings, client=http, clock=clock.now, sleep=sleep,
                                 rng=lambda: 1.0) as compute:
            hosts = [h async for p in compute.iter_hosts(page_size=1) for h in p.items]
        stats = await sim_stats(http)
    assert len(hosts) == len(sim.estate.compute.hosts) > 30
    assert stats["GET /api/v1/hosts"]["statuses"].get("429", 0) > 0
    assert sleeps  # backed off instead of failing


async def test_versioned_paths_work(settings: PrismaSettings, http: httpx.AsyncClient,
                                    sim: PrismaCloudSimulator) -> None:
    versioned = settings.model_copy(update={"compute_api_version": "v34.03"})
    async with ComputeClient(versioned, client=http) as client:
        hosts = [h async for p in client.iter_hosts() for h in p.items]
    assert len(hosts) == len(sim.estate.compute.hosts)


async def test_page_size_above_the_cap_is_rejected(compute: ComputeClient) -> None:
    with pytest.raises(BadRequestError):
        _ = [p async for p in compute.iter_pages("/images", page_size=251)]


def test_compute_url_is_required(settings: PrismaSettings) -> None:
    with pytest.raises(ValueError):
        ComputeClient(settings.model_copy(update={"compute_url": None}))
