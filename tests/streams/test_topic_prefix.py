"""``PRISMAFLOW_WORKER_TOPIC_PREFIX`` reaches every command that names a topic: ``topics create|list``,
``audit verify``, the webhook receiver and the pollers, against the real broker."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from connectors.prisma.simulator import PrismaCloudSimulator, SimConfig
from processors.models import RawAlert
from processors.records import DeadLetter
from streams.audit import AuditWriter
from streams.cli import main
from streams.embedded import ServedApp
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.compose import build_webhook_app, poller_settings, run_pollers, webhook_settings
from streams.config import load_settings
from streams.topics import AUDIT, CATALOGUE, DLQ, RAW_ALERTS, SOURCE_CHECKPOINTS, create_topics
from tests.connectors.prisma.test_webhook import CSPM_NOTIFICATION
from tests.kafka_helpers import read_topic
from tests.audit_keys import TEST_SIGNER

TOKEN = "Bearer prefix-test-token"


@pytest.fixture
def prefixed(kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment of a deployment that runs under its own topic prefix."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", topic_prefix)
    return topic_prefix


def test_the_source_settings_put_their_topics_under_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", "blue.")
    monkeypatch.setenv("PRISMAFLOW_WEBHOOK_DLQ_TOPIC", "custom.dlq")
    webhook, poller = webhook_settings(load_settings()), poller_settings(load_settings())
    assert (webhook.raw_topic, webhook.dlq_topic) == ("blue.prisma.alerts.raw", "blue.custom.dlq")
    assert (poller.raw_topic, poller.dlq_topic) == ("blue.prisma.alerts.raw", "blue.prisma.dlq")
    monkeypatch.delenv("PRISMAFLOW_WORKER_TOPIC_PREFIX")
    assert webhook_settings(load_settings()).raw_topic == RAW_ALERTS.name  # no prefix: the catalogue's names


@pytest.mark.broker
def test_topics_create_and_list_use_the_prefix(prefixed: str, kafka_bootstrap: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "create"]) == 0
    created = capsys.readouterr().out
    assert sorted(line.split()[-1] for line in created.splitlines()) == sorted(prefixed + s.name for s in CATALOGUE)
    present = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    assert all(prefixed + spec.name in present for spec in CATALOGUE)
    assert main(["topics", "list"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]  # after the header: the broker's view, one row a topic
    assert sorted(row.split()[0] for row in rows) == sorted(prefixed + s.name for s in CATALOGUE)


@pytest.mark.broker
def test_audit_verify_reads_the_prefixed_audit_topic(prefixed: str, kafka_bootstrap: str,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_AUDIT_VERIFY_KEYS__TESTS", TEST_SIGNER.public_key_text())  # public key only
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (AUDIT,), prefix=prefixed)
    kafka, serde = KafkaSettings(bootstrap_servers=kafka_bootstrap), AvroSerde()
    writer = AuditWriter("approvals/0", kafka, serde, signer=TEST_SIGNER, topic=prefixed + AUDIT.name)
    writer.start()
    producer = Producer(kafka.client_config())
    for i in range(3):
        record = writer.record("person", "alice@example.com", "fix_approved", alert_id=f"P-{i}")
        producer.produce(record.topic, key=record.key.encode(),
                         value=serde.encode(record.value, topic=record.topic))  # type: ignore[arg-type]
    assert producer.flush(10) == 0

    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "chain approvals/0: 3 records, sequences 0..2" in out and out.rstrip().endswith(": ok")


@pytest.mark.broker
def test_the_webhook_receiver_writes_to_the_prefixed_raw_and_dead_letter_topics(
    prefixed: str, kafka_bootstrap: str, served: list[ServedApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (RAW_ALERTS, DLQ), prefix=prefixed)
    monkeypatch.setenv("PRISMAFLOW_WEBHOOK_AUTH_TOKEN", TOKEN)
    served.append(ServedApp(build_webhook_app(load_settings())))
    good = copy.deepcopy(CSPM_NOTIFICATION) | {"alertId": "P-prefix-1"}
    response = httpx.post(f"{served[0].url}/webhooks/prisma/cspm", headers={"Authorization": TOKEN},
                          json=[good, {"alertStatus": "open"}], timeout=30)
    assert response.status_code == 200, response.text

    serde = AvroSerde()
    (raw,) = read_topic(kafka_bootstrap, prefixed + RAW_ALERTS.name, expect=1, settle_s=0, timeout_s=30)
    assert serde.decode(raw.value(), RawAlert, topic=prefixed + RAW_ALERTS.name).source_alert_id == "P-prefix-1"
    (dead,) = read_topic(kafka_bootstrap, prefixed + DLQ.name, expect=1, settle_s=0, timeout_s=30)
    assert "missing or empty alertId" in serde.decode(dead.value(), DeadLetter, topic=prefixed + DLQ.name).error_message


@pytest.mark.broker
def test_the_webhook_receiver_is_ready_only_once_its_topics_exist_on_the_broker(
    prefixed: str, kafka_bootstrap: str, served: list[ServedApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRISMAFLOW_WEBHOOK_AUTH_TOKEN", TOKEN)
    served.append(ServedApp(build_webhook_app(load_settings())))
    assert httpx.get(f"{served[0].url}/healthz", timeout=10).status_code == 200
    response = httpx.get(f"{served[0].url}/readyz", timeout=10)
    assert response.status_code == 503, response.text
    assert prefixed + RAW_ALERTS.name in response.json()["failing"]["broker"]

    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (RAW_ALERTS, DLQ), prefix=prefixed)
    response = httpx.get(f"{served[0].url}/readyz", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


@pytest.mark.broker
async def test_the_pollers_write_alerts_and_checkpoints_to_the_prefixed_topics(
    prefixed: str, kafka_bootstrap: str, served: list[ServedApp], monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), (RAW_ALERTS, SOURCE_CHECKPOINTS),
                  prefix=prefixed)
    sim = ServedApp(PrismaCloudSimulator(config=SimConfig(rate_limits=False), seed=7, n_alerts=30))
    served.append(sim)
    for name, value in {"PRISMAFLOW_PRISMA_API_URL": sim.url, "PRISMAFLOW_PRISMA_COMPUTE_URL": sim.url,
                        "PRISMAFLOW_POLLER_COMPUTE_ENABLED": "false", "PRISMAFLOW_POLLER_INTERVAL_S": "3600",
                        "PRISMAFLOW_POLLER_INITIAL_LOOK_BACK_S": str(3650 * 86400)}.items():
        monkeypatch.setenv(name, value)
    read: Callable[[str], list[Any]] = lambda topic: read_topic(  # noqa: E731
        kafka_bootstrap, prefixed + topic, expect=1, settle_s=0, timeout_s=60.0)

    stop = asyncio.Event()
    polling = asyncio.create_task(run_pollers(load_settings(), stop))
    try:
        raw = await asyncio.to_thread(read, RAW_ALERTS.name)
        checkpoints = await asyncio.to_thread(read, SOURCE_CHECKPOINTS.name)
    finally:
        stop.set()
        await asyncio.wait_for(polling, 30)
    assert raw and checkpoints
    assert checkpoints[0].key() == b"cspm:default"
