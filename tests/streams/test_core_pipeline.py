"""The stream core end to end on the real broker, in both topologies: fused (raw → scored in one
stage) and split (raw → alerts → scored).

Counts, dedupe, a correlated incident, scores and dead letters are checked on what the workers
committed; a worker killed with SIGKILL mid-stream and restarted loses and doubles nothing; two
workers in one group produce the same result as one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from connectors.feeds.store import load_default_feeds
from connectors.prisma.simulator.traffic import raw_alert_stream
from processors.enrich import EnrichmentContext
from processors.errors import InvalidRecordError
from processors.models import Module, RawAlert, ScoredAlert, UpdateKind
from processors.pipeline import normalise_and_enrich, raw_alert_key
from processors.records import DeadLetter
from streams.core_stage import is_link
from streams.embedded import ThreadedWorker
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from tests.kafka_helpers import produce_models, read_topic
from streams.topics import ALERTS, CATALOGUE, DLQ, RAW_ALERTS, SCORED_ALERTS, create_topics
from tests.processors.payloads import ACCOUNT, HOSTNAME

pytestmark = [pytest.mark.broker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


TOPOLOGIES = {"fused": ("core",), "split": ("normalise", "score")}
DLQ_STAGE = {"fused": "core", "split": "normalise_enrich"}


def _produce(kafka: KafkaSettings, serde: AvroSerde, topic: str, records: list[RawAlert],
             key: Callable[[RawAlert], str] = raw_alert_key) -> None:
    """Write raw alerts keyed as the sources key them (by asset), or by ``key``.

    Idempotently, as the sources' producers do: dedupe rightly drops an older version that arrives
    after a newer one, which a reordering retry would cause, making counts differ from the pure
    pipeline's.
    """
    produce_models(kafka, serde, topic, ((key(record), record) for record in records))


def _expected(records: list[RawAlert]) -> tuple[Counter[str], int]:
    """What the pure pipeline says should come out: scored records per alert id, and dead letters."""
    from processors.pipeline import StageStates, process_for_asset
    from streams.static_inputs import load_scoring_policy

    context = EnrichmentContext(feeds=load_default_feeds())
    policy = load_scoring_policy()
    states: dict[str, Any] = {}
    assets: dict[str, Any] = {}
    history: Any = None
    out: Counter[str] = Counter()
    dead = 0
    for raw in records:
        try:
            alert = normalise_and_enrich(raw, context)
        except InvalidRecordError:
            dead += 1
            continue
        finding = (alert.resource.asset_id, alert.alert_id)
        before = StageStates(dedupe=states.get(finding), asset=assets.get(alert.resource.asset_id),
                             **({"history": history} if history is not None else {}))
        scored, after = process_for_asset(before, alert, policy, alert.ingested_at)
        states[finding] = after.dedupe
        assets[alert.resource.asset_id] = after.asset
        history = after.history
        if scored is not None:
            out[alert.alert_id] += 1
    return out, dead


def _traffic(n: int, seed: int) -> tuple[list[RawAlert], Counter[str], int]:
    """``n`` raw alerts of the simulator's traffic mix (``seed``), what the pure pipeline scores of
    them per alert id, and how many it dead-letters."""
    records = list(raw_alert_stream(n, seed=seed, now=datetime(2026, 11, 26, 12, tzinfo=UTC)))
    expected, dead = _expected(records)
    return records, expected, dead


@pytest.fixture(params=TOPOLOGIES)
def topology(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs once per topology: the fused core stage, and the split one."""
    return str(request.param)


@pytest.fixture
def start_worker(kafka: KafkaSettings, serde: AvroSerde, catalogue: str) -> Iterator[Callable[..., ThreadedWorker]]:
    started: list[ThreadedWorker] = []

    def start(stage: str, instance: str = "0", group_prefix: str = "") -> ThreadedWorker:
        settings = WorkerSettings(topic_prefix=catalogue, instance_id=instance,
                                  group_prefix=group_prefix or catalogue + "g", max_batch=500)
        worker = ThreadedWorker(stage, PrismaflowSettings(kafka=kafka, worker=settings), serde)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_simulator_traffic_flows_to_scored_with_dedupe_correlation_scores_and_dead_letters(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, start_worker: Callable[..., ThreadedWorker],
    topology: str,
) -> None:
    records, expected, expected_dead = _traffic(3000, seed=11)
    assert expected_dead > 0 and sum(expected.values()) < len(records)  # the mix has repeats and noise
    for stage in TOPOLOGIES[topology]:
        start_worker(stage)
    _produce(kafka, serde, catalogue + RAW_ALERTS.name, records)

    scored_messages = read_topic(kafka, catalogue + SCORED_ALERTS.name, expect=sum(expected.values()))
    every = [serde.decode(m.value(), ScoredAlert, topic=catalogue + SCORED_ALERTS.name) for m in scored_messages]
    # Incident members re-emitted because their incident changed (the fused core's asset graph spans
    # partitions, so when they come depends on timing); the rest must be what the pure pipeline says.
    scored = [s for s in every if not s.incident_update]

    # Counts and dedupe: exactly what the pure pipeline decides; each finding (alert on its asset)
    # passed once as NEW, then only as updates.
    assert Counter(s.alert.alert_id for s in scored) == expected
    kinds = Counter(s.update_kind for s in scored)
    findings = {(s.alert.resource.asset_id, s.alert.alert_id) for s in scored}
    assert kinds[UpdateKind.NEW] == len(findings)
    first_seen: dict[tuple[str, str], UpdateKind] = {}
    for s in scored:
        first_seen.setdefault((s.alert.resource.asset_id, s.alert.alert_id), s.update_kind)
    assert set(first_seen.values()) == {UpdateKind.NEW}
    assert kinds[UpdateKind.STATUS_CHANGE] > 0
    # Keys: everything about one asset is on one partition, keyed by asset id.
    assert all(m.key().decode() == s.alert.resource.asset_id for m, s in zip(scored_messages, every))
    # A correlated incident across modules on one asset, with its members listed.
    incidents = [s for s in scored if s.incident_id and len(s.incident_members) >= 2]
    assert incidents
    assert any(len({m for m in (Module.CSPM, Module.CIEM, Module.CWPP)
                    if any(x.alert.module is m for x in scored if x.alert.alert_id in s.incident_members)}) >= 2
               for s in incidents)
    # Scores are explained: 0-100, with the factors that produced them.
    for s in scored:
        assert 0 <= s.score <= 100
        assert {f.name for f in s.factors} >= {"severity", "exposure", "exploitability", "criticality",
                                               "data_sensitivity", "correlation"}
        assert s.score == max(0, min(100, round(sum(f.contribution for f in s.factors))))
    # Noise went to the dead-letter topic with the reason and the original bytes.
    dead = read_topic(kafka, catalogue + DLQ.name, expect=expected_dead)
    letters = [serde.decode(m.value(), DeadLetter, topic=catalogue + DLQ.name) for m in dead]
    assert len(letters) == expected_dead
    assert all(d.stage == DLQ_STAGE[topology] and d.original_value and d.error_message for d in letters)
    assert {d.original_topic for d in letters} == {catalogue + RAW_ALERTS.name}


def _subprocess_worker(stage: str, kafka: KafkaSettings, catalogue: str, instance: str, group: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "PRISMAFLOW_WORKER_TOPIC_PREFIX": catalogue, "PRISMAFLOW_WORKER_INSTANCE_ID": instance,
           "PRISMAFLOW_WORKER_GROUP_PREFIX": group, "PRISMAFLOW_WORKER_MAX_BATCH": "200"}
    log = Path(os.environ.get("PYTEST_WORKER_LOG_DIR", "/tmp")) / f"prismaflow-{group}-{stage}-{instance}.log"
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "streams.cli", "run", stage], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _scored_summary(messages: list[Any], serde: AvroSerde, topic: str) -> Counter[tuple[str, str, str]]:
    """Which finding was passed on how: the part of the result that does not depend on how records
    of different alerts interleave across partitions (scores and incidents legitimately do, since
    correlation sees the findings of an asset in arrival order)."""
    out: Counter[tuple[str, str, str]] = Counter()
    for message in messages:
        s = serde.decode(message.value(), ScoredAlert, topic=topic)
        if not s.incident_update:  # re-emitted incident members: when, depends on interleaving too
            out[(s.alert.resource.asset_id, s.alert.alert_id, s.update_kind.value)] += 1
    return out


def _own_alert_ids(messages: list[Any], serde: AvroSerde, topic: str) -> Counter[str]:
    """Scored records per alert id, leaving out incident members re-emitted for their incident."""
    scored = (serde.decode(m.value(), ScoredAlert, topic=topic) for m in messages)
    return Counter(s.alert.alert_id for s in scored if not s.incident_update)


def test_a_worker_killed_with_sigkill_mid_stream_loses_nothing_and_passes_nothing_twice(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, start_worker: Callable[..., ThreadedWorker],
    topology: str,
) -> None:
    """The stateful stage is killed: the fused one, or the score stage of the split topology."""
    records, expected, _ = _traffic(2000, seed=23)
    stateful = TOPOLOGIES[topology][-1]
    if topology == "split":
        start_worker("normalise")
    _produce(kafka, serde, catalogue + RAW_ALERTS.name, records)
    if topology == "split":
        read_topic(kafka, catalogue + ALERTS.name, expect=len(records) - 50, settle_s=1)  # input is all there
    group = catalogue + "kill"
    watcher = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": f"watch-{time.monotonic_ns()}",
                        "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    watcher.subscribe([catalogue + SCORED_ALERTS.name])
    victim = _subprocess_worker(stateful, kafka, catalogue, "0", group)
    try:
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 200 and time.monotonic() < deadline:  # kill once some output is committed
            seen += sum(1 for m in watcher.consume(500, 0.05) if m.error() is None)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        watcher.close()
        if victim.poll() is None:
            victim.kill()
    at_kill = read_topic(kafka, catalogue + SCORED_ALERTS.name, settle_s=0.5, timeout_s=10)
    committed_at_kill = sum(_own_alert_ids(at_kill, serde, catalogue + SCORED_ALERTS.name).values())
    assert 200 <= committed_at_kill < sum(expected.values()), "the worker was killed mid-stream"
    restarted = _subprocess_worker(stateful, kafka, catalogue, "0", group)
    try:
        messages = read_topic(kafka, catalogue + SCORED_ALERTS.name, expect=sum(expected.values()), settle_s=4)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(30)
    got = _own_alert_ids(messages, serde, catalogue + SCORED_ALERTS.name)
    assert got == expected  # nothing lost, nothing passed twice


def test_two_workers_in_one_group_split_the_partitions_and_give_the_same_result_as_one(
    kafka: KafkaSettings, serde: AvroSerde, kafka_bootstrap: str, topic_prefix: str, unique_name: Callable[[str], str],
    topology: str,
) -> None:
    records, _, _ = _traffic(2000, seed=31)
    results = []
    for workers in (1, 2):
        prefix = unique_name(f"w{workers}") + "."
        create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), CATALOGUE, prefix=prefix)
        group = prefix + "g"
        procs = [_subprocess_worker(stage, kafka, prefix, str(i), group)
                 for stage in TOPOLOGIES[topology] for i in range(workers)]
        try:
            _produce(kafka, serde, prefix + RAW_ALERTS.name, records)
            expected, _ = _expected(records)
            messages = read_topic(kafka, prefix + SCORED_ALERTS.name, expect=sum(expected.values()), settle_s=4)
            keyed = read_topic(kafka, prefix + (ALERTS.name if topology == "split" else RAW_ALERTS.name), settle_s=1)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(30)
        partitions = Counter(m.partition() for m in keyed)
        assert len(partitions) > 1
        results.append(_scored_summary(messages, serde, prefix + SCORED_ALERTS.name))
    assert results[0] == results[1]
    assert sum(results[0].values()) == sum(expected.values())


def test_the_fused_stage_rekeys_raw_alerts_another_producer_keyed_by_alert_id_and_gives_the_same_counts(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, start_worker: Callable[..., ThreadedWorker],
) -> None:
    records, expected, _ = _traffic(1500, seed=41)
    start_worker("core")
    _produce(kafka, serde, catalogue + RAW_ALERTS.name, records, key=lambda r: r.source_alert_id)

    messages = read_topic(kafka, catalogue + SCORED_ALERTS.name, expect=sum(expected.values()))
    assert _own_alert_ids(messages, serde, catalogue + SCORED_ALERTS.name) == expected
    # Each record that normalises came back to the raw topic once, under its asset's key (the
    # core's own asset-graph messages on that topic are not raw alerts).
    raw = [m for m in read_topic(kafka, catalogue + RAW_ALERTS.name, settle_s=1) if not is_link(dict(m.headers() or []))]
    rekeyed = [m for m in raw if m.key().decode() != serde.decode(m.value(), RawAlert, topic=m.topic()).source_alert_id]
    valid = [r for r in records if raw_alert_key(r) != r.source_alert_id]
    assert len(rekeyed) == len(valid)
    assert all(m.key().decode() == raw_alert_key(serde.decode(m.value(), RawAlert, topic=m.topic())) for m in rekeyed)


def test_a_role_an_instance_vulnerability_and_its_open_security_group_form_one_incident_across_partitions(
    kafka: KafkaSettings, serde: AvroSerde, catalogue: str, start_worker: Callable[..., ThreadedWorker],
) -> None:
    """The acceptance story through the real fused core: the role, the security group and the
    instance hash to three partitions; they meet through the core's own asset-graph messages, every
    member is re-emitted with the one incident id, and a restarted worker (state restored from the
    changelog) still knows the graph."""
    from tests.processors.test_graph import INSTANCE, ROLE, SG, host_vulns, instance_config, role, security_group

    topic = catalogue + RAW_ALERTS.name
    partitions = {key: zlib.crc32(key.encode()) % RAW_ALERTS.partitions for key in (ROLE, SG, INSTANCE)}
    assert len(set(partitions.values())) == 3  # librdkafka's default partitioner: CRC-32 of the key
    worker = start_worker("core")
    _produce(kafka, serde, topic, [role(0), security_group(1), host_vulns(2), instance_config(3)])
    scored_topic = catalogue + SCORED_ALERTS.name
    members = {"P-3000003", "P-3000004", "P-3000005", f"cwpp:host-vulns:{ACCOUNT}:{HOSTNAME}"}

    def settled() -> list[ScoredAlert]:
        return [serde.decode(m.value(), ScoredAlert, topic=scored_topic) for m in read_topic(kafka, scored_topic)]

    scored = settled()
    incidents = {s.incident_id for s in scored if s.incident_id}
    assert len(incidents) == 1
    incident = incidents.pop()
    assert {s.alert.alert_id for s in scored if s.incident_id == incident} == members
    assert any(set(s.incident_members) == members for s in scored)
    assert {s.alert.resource.asset_id for s in scored if s.incident_update} >= {ROLE, SG}
    links = [m for m in read_topic(kafka, topic, settle_s=1) if is_link(dict(m.headers() or []))]
    assert {m.key().decode() for m in links} >= {ROLE, SG, INSTANCE}
    assert all(m.partition() == partitions.get(m.key().decode(), m.partition()) for m in links)

    worker.stop()  # the restarted worker restores the graph and the incident from the changelog
    start_worker("core")
    before = len(scored)
    _produce(kafka, serde, topic, [role(10, status="resolved")])
    after = settled()[before:]
    left = [s for s in after if s.alert.alert_id == "P-3000003" and s.alert.status.value == "resolved"]
    assert any(s.incident_id == incident and s.incident_update for s in left)  # told the instance's incident
    remaining = [s for s in after if s.incident_update and s.alert.status.value == "open"]
    assert remaining and all("P-3000003" not in s.incident_members for s in remaining)
