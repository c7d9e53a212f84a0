"""``prismaflow replay`` end to end on the real broker: the fused core and the Jira sink (on its
simulator) run, a range of raw alerts is replayed, and every alert is scored again while the
tracker gets no second ticket and loses none."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors.jira.settings import JiraSettings
from connectors.jira.simulator import JiraSimulator
from connectors.jira.simulator import SimConfig as JiraSimConfig
from connectors.prisma.simulator.traffic import raw_alert_stream
from processors.models import ScoredAlert, UpdateKind
from processors.pipeline import raw_alert_key
from streams.cli import main
from streams.compose import build_sink_worker
from streams.config import load_settings
from streams.config.systems import JIRA_DEFAULTS
from streams.core_stage import REPLAY_HEADER
from streams.embedded import ServedApp, ThreadedSink, ThreadedWorker, free_port
from streams.group_progress import group_caught_up
from streams.kafka_clients import KafkaClients
from streams.operator.replay import parse_time
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import ANALYSES, RAW_ALERTS, SCORED_ALERTS
from tests.audit_keys import TEST_SIGNER
from tests.kafka_helpers import produce_models, read_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _wait_settled(kafka: KafkaSettings, reads: dict[str, list[str]], timeout_s: float = 240.0) -> None:
    """Until every group of ``reads`` has read its topics to the end, twice in a row (as the demo)."""
    clients, settled, deadline = KafkaClients(kafka), 0, time.monotonic() + timeout_s
    while settled < 2:
        assert time.monotonic() < deadline, "the pipeline did not settle"
        settled = settled + 1 if all(group_caught_up(clients, g, t) for g, t in reads.items()) else 0
        time.sleep(0.5)


def _scored(kafka: KafkaSettings, serde: AvroSerde, topic: str,
            after: dict[int, int] | None = None) -> tuple[list[ScoredAlert], dict[int, int]]:
    """The scored alerts of ``topic`` (only those past the offsets ``after``), and the offsets past them."""
    messages = [m for m in read_topic(kafka, topic, settle_s=2) if m.offset() >= (after or {}).get(m.partition(), 0)]
    ends = dict(after or {})
    for m in messages:
        ends[m.partition()] = max(ends.get(m.partition(), 0), m.offset() + 1)
    return [serde.decode(m.value(), ScoredAlert, topic=topic) for m in messages], ends


def _fingerprints(jira: JiraSimulator) -> Counter[str]:
    return Counter(label for issue in jira.store.issues.values() for label in issue.fields.get("labels", [])
                   if label.startswith("prismaflow-fp-"))


def test_replay_rescores_every_alert_of_the_range_without_a_second_ticket(
        catalogue: str, kafka: KafkaSettings, serde: AvroSerde, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    jira_port = free_port()
    jira_url = f"http://127.0.0.1:{jira_port}"
    jira = JiraSimulator(config=JiraSimConfig(base_url=jira_url, rate_limits=False))
    served = ServedApp(jira, jira_port)
    settings = load_settings()
    settings = settings.model_copy(update={
        "kafka": kafka, "jira": JiraSettings.model_validate({**JIRA_DEFAULTS, "base_url": jira_url}),
        "audit": settings.audit.model_copy(update={"signing_key": SecretStr(TEST_SIGNER.secret_text())}),
        # No analysis stage runs here: a new ticket must not wait for an analysis that never comes.
        "tickets": settings.tickets.model_copy(update={"analysis_wait_s": 0.0}),
        "worker": settings.worker.model_copy(update={"topic_prefix": catalogue, "group_prefix": catalogue + "g",
                                                     "instance_id": "replay-test"})})
    raw, scored_topic = catalogue + RAW_ALERTS.name, catalogue + SCORED_ALERTS.name
    reads = {f"{catalogue}g.core": [raw], f"{catalogue}g.sink.jira": [scored_topic, catalogue + ANALYSES.name]}
    core = ThreadedWorker("core", settings, serde)
    sink = ThreadedSink(build_sink_worker("jira", settings, serde))
    try:
        start = datetime.now(UTC) - timedelta(seconds=1)
        records = list(raw_alert_stream(120, seed=11))
        produce_models(kafka, serde, raw, ((raw_alert_key(r), r) for r in records))
        end = datetime.now(UTC) + timedelta(seconds=1)
        _wait_settled(kafka, reads)
        before, seen = _scored(kafka, serde, scored_topic)
        tickets_before = _fingerprints(jira)
        assert tickets_before and max(tickets_before.values()) == 1  # the run itself: one ticket per risk

        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
        monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", catalogue)
        monkeypatch.setenv("PRISMAFLOW_WORKER_GROUP_PREFIX", catalogue + "g")
        assert main(["replay", "--from", start.isoformat(), "--to", end.isoformat()]) == 0
        summary = capsys.readouterr().out
        assert " raw alerts re-published to " in summary
        _wait_settled(kafka, reads)
        rescored, _ = _scored(kafka, serde, scored_topic, after=seen)
    finally:
        sink.stop()
        core.stop()
        served.stop()

    replayed = [m for m in read_topic(kafka, raw, settle_s=1) if REPLAY_HEADER in dict(m.headers() or [])]
    assert replayed, "nothing was re-published"
    own = {s.alert.alert_id for s in before if not s.incident_update and ":incident:" not in s.alert.alert_id}
    assert own <= {s.alert.alert_id for s in rescored}, "an alert of the range was not scored again"
    assert {s.update_kind for s in rescored if not s.incident_update} == {UpdateKind.RECURRENCE}
    assert _fingerprints(jira) == tickets_before  # no ticket lost, none added, none twice


def test_replay_times_are_iso_8601_and_utc_unless_they_say_otherwise() -> None:
    assert parse_time("2026-12-06T10:00:00Z") == datetime(2026, 12, 6, 10, tzinfo=UTC)
    assert parse_time("2026-12-06T10:00") == datetime(2026, 12, 6, 10, tzinfo=UTC)
    assert parse_time("2026-12-06T11:00:00+01:00") == datetime(2026, 12, 6, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_time("yesterday")
