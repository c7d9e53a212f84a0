"""The pollers against the simulator and a real broker: every alert served is on the raw topic exactly
as often as it was served, across restarts, expired tokens, 429s and 5xx bursts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from connectors.ports import SourceCheckpoint
from streams.checkpoints import KafkaCheckpointStore, KafkaPageWriter
from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock
from connectors.prisma.settings import PollerSettings
from connectors.prisma.source import ComputePoller, CspmPoller
from processors.models import AlertSource, RawAlert
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from tests.kafka_helpers import read_topic
from streams.topics import RAW_ALERTS, SOURCE_CHECKPOINTS, create_topics
from tests.connectors.prisma.conftest import API, sim_stats

pytestmark = pytest.mark.broker


class ServedCounter(httpx.AsyncBaseTransport):
    """Counts, per alert id, how often the simulator's /v2/alert responses carried it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.served: Counter[str] = Counter()
        self.pages: list[list[str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/v2/alert" or response.status_code != 200:
            return response
        body = await response.aread()
        ids = [item["id"] for item in json.loads(body)["items"]]
        self.pages.append(ids)
        self.served.update(ids)
        return httpx.Response(response.status_code, headers=response.headers, content=body)


class SimulatedCrash(Exception):
    """Stands for the process dying at a chosen point."""


class CrashingWriter:
    """Delegates to the real Kafka writer, and dies after (or instead of) the n-th page write."""

    def __init__(self, inner: KafkaPageWriter, crash_on_page: int, *, before_write: bool) -> None:
        self.inner = inner
        self.crash_on_page = crash_on_page
        self.before_write = before_write
        self.pages = 0

    async def write(self, records: Sequence[OutgoingRecord], checkpoint: SourceCheckpoint) -> None:
        self.pages += 1
        if self.pages == self.crash_on_page and self.before_write:
            raise SimulatedCrash("died after fetching, before writing")
        await self.inner.write(records, checkpoint)
        if self.pages == self.crash_on_page:
            raise SimulatedCrash("died right after writing")


@pytest.fixture
def topics(kafka: KafkaSettings, topic_prefix: str) -> dict[str, str]:
    create_topics(AdminClient({"bootstrap.servers": kafka.bootstrap_servers}),
                  (RAW_ALERTS, SOURCE_CHECKPOINTS), prefix=topic_prefix)
    return {"raw": topic_prefix + RAW_ALERTS.name, "checkpoints": topic_prefix + SOURCE_CHECKPOINTS.name}


@pytest.fixture
def poller_settings(topics: dict[str, str]) -> PollerSettings:
    return PollerSettings(raw_topic=topics["raw"], initial_look_back_s=90 * 86400, look_back_s=600)


def _sim_now(clock: SimClock) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(clock.now(), UTC)


def _read_raw(kafka: KafkaSettings, topic: str, serde: AvroSerde, settle_s: float = 2.0) -> list[RawAlert]:
    return [serde.decode(m.value(), RawAlert, topic=topic)
            for m in read_topic(kafka, topic, settle_s=settle_s)]


class Harness:
    """Builds pollers the way a (re)started process would: a fresh client, writer and store."""

    def __init__(self, sim: PrismaCloudSimulator, clock: SimClock, settings: PrismaSettings,
                 kafka: KafkaSettings, serde: AvroSerde, topics: dict[str, str], poller: PollerSettings,
                 transport: httpx.AsyncBaseTransport) -> None:
        self.sim, self.clock, self.settings = sim, clock, settings
        self.kafka, self.serde, self.topics, self.poller = kafka, serde, topics, poller
        self.transport = transport
        self.sleeps: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def writer(self, name: str) -> KafkaPageWriter:
        return KafkaPageWriter(self.kafka, self.serde, f"test-{name}", checkpoint_topic=self.topics["checkpoints"])

    def store(self) -> KafkaCheckpointStore:
        return KafkaCheckpointStore(self.kafka, self.serde, checkpoint_topic=self.topics["checkpoints"])

    async def cspm_poll(self, writer: Any) -> Any:
        async with httpx.AsyncClient(transport=self.transport) as http, \
                CspmClient(self.settings, client=http, clock=self.clock.now, sleep=self._sleep,
                           rng=lambda: 1.0) as client:
            poller = CspmPoller(self.poller, client, writer, self.store(), clock=_sim_now(self.clock))
            return await poller.poll_once()


@pytest.fixture
async def harness(make_sim: Callable[..., PrismaCloudSimulator], clock: SimClock, settings: PrismaSettings,
                  kafka: KafkaSettings, serde: AvroSerde, topics: dict[str, str],
                  poller_settings: PollerSettings) -> AsyncIterator[Harness]:
    sim = make_sim(n_alerts=180, rate_limits=False)
    small_pages = settings.model_copy(update={"page_size": 25})
    yield Harness(sim, clock, small_pages, kafka, serde, topics, poller_settings,
                  ServedCounter(httpx.ASGITransport(app=sim)))


async def test_a_poll_writes_every_served_alert_once_with_its_payload(harness: Harness, unique_name: Any) -> None:
    writer = harness.writer(unique_name("tx"))
    result = await harness.cspm_poll(writer)
    writer.close()

    counter = harness.transport
    assert isinstance(counter, ServedCounter)
    assert result.pages == len(counter.pages) >= 5
    assert set(counter.served) == set(harness.sim.alerts)  # the first window reaches every alert
    raw = _read_raw(harness.kafka, harness.topics["raw"], harness.serde)
    assert Counter(r.source_alert_id for r in raw) == counter.served
    sample = raw[0]
    assert sample.source is AlertSource.CSPM_API
    assert json.loads(sample.payload_json)["id"] == sample.source_alert_id


@pytest.mark.parametrize("before_write", [False, True], ids=["crash-after-write", "crash-before-write"])
async def test_a_restart_in_the_middle_of_paging_resumes_without_gaps_or_repeats(
    harness: Harness, unique_name: Any, before_write: bool,
) -> None:
    tx = unique_name("tx")
    with pytest.raises(SimulatedCrash):
        await harness.cspm_poll(CrashingWriter(harness.writer(tx), crash_on_page=3, before_write=before_write))
    counter = harness.transport
    assert isinstance(counter, ServedCounter)
    in_flight = Counter(counter.pages[2]) if before_write else Counter()

    restarted = harness.writer(tx)  # same transactional id: fences the dead writer
    result = await harness.cspm_poll(restarted)
    restarted.close()

    assert result.resumed is True
    raw = _read_raw(harness.kafka, harness.topics["raw"], harness.serde)
    written = Counter(r.source_alert_id for r in raw)
    assert set(written) == set(harness.sim.alerts)  # nothing missing
    # Exactly as often as served; the page in flight when the process died was served, never
    # written, and served again after the restart.
    assert written == counter.served - in_flight
    assert all(count == 1 for count in written.values())


async def test_expired_tokens_429s_and_5xx_bursts_are_survived_with_nothing_lost(
    harness: Harness, unique_name: Any,
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.sim)) as admin:
        for fault in ({"route": "/v2/alert", "kind": "5xx", "count": 3, "status": 503},
                      {"route": "/v2/alert", "kind": "429", "count": 2, "retry_after_s": 4},
                      {"route": "/v2/alert", "kind": "expire_tokens", "count": 1},
                      {"route": "/v2/alert", "kind": "5xx", "count": 2, "status": 502}):
            assert (await admin.post(f"{API}/_sim/faults", json=fault)).status_code in (200, 201)
        writer = harness.writer(unique_name("tx"))
        await harness.cspm_poll(writer)
        writer.close()
        routes = await sim_stats(admin)

    counter = harness.transport
    assert isinstance(counter, ServedCounter)
    raw = _read_raw(harness.kafka, harness.topics["raw"], harness.serde)
    assert Counter(r.source_alert_id for r in raw) == counter.served
    assert set(counter.served) == set(harness.sim.alerts)
    alert_calls = routes["POST /v2/alert"]
    assert alert_calls["calls"] >= len(counter.pages) + 7  # every injected failure was retried
    assert 4.0 in harness.sleeps  # Retry-After honoured
    assert routes["POST /login"]["calls"] >= 2  # the expired token was replaced


async def test_the_next_window_starts_a_look_back_before_the_last_and_catches_status_changes(
    harness: Harness, unique_name: Any,
) -> None:
    tx = unique_name("tx")
    writer = harness.writer(tx)
    await harness.cspm_poll(writer)
    changed = harness.sim.advance(3600)  # an hour of churn: resolutions, dismissals, new alerts
    assert changed
    second = await harness.cspm_poll(writer)
    writer.close()

    assert second.resumed is False
    raw = _read_raw(harness.kafka, harness.topics["raw"], harness.serde)
    latest = {}
    for record in raw:
        latest[record.source_alert_id] = json.loads(record.payload_json)
    for alert in changed:
        assert latest[alert["id"]]["status"] == harness.sim.alerts[alert["id"]]["status"]


async def test_the_compute_poller_writes_envelopes_keyed_by_stable_ids(
    harness: Harness, unique_name: Any,
) -> None:
    writer = harness.writer(unique_name("tx"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.sim)) as http, \
            ComputeClient(harness.settings, client=http, clock=harness.clock.now, sleep=harness._sleep,
                          rng=lambda: 1.0) as client:
        poller = ComputePoller(harness.poller, client, writer, harness.store(), clock=_sim_now(harness.clock))
        result = await poller.poll_once()
    writer.close()

    raw = _read_raw(harness.kafka, harness.topics["raw"], harness.serde)
    assert len(raw) == result.alerts > 0
    kinds = Counter(json.loads(r.payload_json)["kind"] for r in raw)
    assert {"host_scan", "image_scan"} <= set(kinds)
    assert all(r.source is AlertSource.COMPUTE_API and r.source_alert_id.startswith("cwpp:") for r in raw)
    ids = [r.source_alert_id for r in raw]
    assert len(ids) == len(set(ids))
    # The finished window is checkpointed: the next poll starts a new one.
    checkpoint = harness.store().load(poller.name)
    assert checkpoint is not None and not checkpoint.in_window and checkpoint.watermark is not None


async def test_a_compute_poller_restarted_mid_listing_resumes_at_its_offset_without_repeats(
    harness: Harness, unique_name: Any,
) -> None:
    tx = unique_name("tx")
    small = harness.settings.model_copy(update={"compute_page_size": 2})

    async def poll(writer: Any) -> Any:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.sim)) as http, \
                ComputeClient(small, client=http, clock=harness.clock.now, sleep=harness._sleep,
                              rng=lambda: 1.0) as client:
            poller = ComputePoller(harness.poller, client, writer, harness.store(), clock=_sim_now(harness.clock))
            return await poller.poll_once()

    with pytest.raises(SimulatedCrash):
        await poll(CrashingWriter(harness.writer(tx), crash_on_page=4, before_write=False))
    restarted = harness.writer(tx)
    result = await poll(restarted)
    restarted.close()

    assert result.resumed is True
    raw = _read_raw(harness.kafka, harness.topics["raw"], harness.serde)
    ids = Counter(r.source_alert_id for r in raw)
    assert ids and all(count == 1 for count in ids.values())  # nothing written twice
    expected = {f"cwpp:host-vulns:{h['cloudMetadata']['accountID']}:{h.get('hostname') or h['_id']}"
                for h in harness.sim.estate.compute.hosts}
    expected |= {f"cwpp:image-vulns:{i.get('_id') or i['id']}" for i in harness.sim.estate.compute.images}
    assert expected <= set(ids)  # nothing skipped
