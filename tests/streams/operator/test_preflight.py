"""Before it starts work, a command checks the broker answers and its topics exist, and says so in
one line when not: no flood of librdkafka errors, no traceback, no idling forever."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.kafka_clients import KafkaClients
from streams.operator.preflight import BrokerUnreachable, TopicsMissing, require_broker, require_topics
from streams.settings import KafkaSettings
from streams.topics import DLQ, RAW_ALERTS, SCORE_CHANGELOG, SCORED_ALERTS, create_topics
from tests.streams.operator.cli_process import run_cli


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound but not listening: connections to it are refused while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [
    ["run", "core"], ["run", "analyse"], ["sink", "jira"], ["sync", "jira"], ["poll"], ["topics", "list"],
    ["topics", "create"], ["audit", "verify"], ["dlq", "list"], ["replay", "--from", "2026-12-06T00:00Z"], ["demo"],
])
def test_a_command_without_a_broker_fails_within_10_s_with_one_clear_line(
        command: list[str], closed_port: int, tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{closed_port}"
    result = run_cli(*command, env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap}, home=tmp_path, timeout_s=60)
    assert result.returncode != 0
    assert result.wall_s < 10, f"took {result.wall_s:.1f} s"
    assert result.stderr_lines == [
        f"prismaflow {command[0]}: error: cannot reach Kafka at {bootstrap} (KAFKA_BOOTSTRAP_SERVERS): connection "
        "refused — is the broker running? start one with: prismaflow broker start"], result.stderr


@pytest.mark.broker
def test_a_stage_whose_topics_are_missing_fails_naming_them_and_the_command_that_creates_them(
        kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    result = run_cli("run", "core", home=tmp_path, timeout_s=90, env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PRISMAFLOW_WORKER_TOPIC_PREFIX": topic_prefix,
        "PRISMAFLOW_WORKER_GROUP_PREFIX": topic_prefix + "prismaflow", "PRISMAFLOW_WORKER_METRICS_PORT": "0"})
    assert result.returncode != 0
    error = result.stderr_lines[-1]
    assert error.startswith("prismaflow run: error: topics missing on the broker: ")
    for spec in (RAW_ALERTS, SCORED_ALERTS, SCORE_CHANGELOG, DLQ):
        assert topic_prefix + spec.name in error
    assert "create them with: prismaflow topics create" in error


@pytest.mark.broker
@pytest.mark.parametrize(("command", "expected"), [
    (["sink", "siem"], [SCORED_ALERTS, DLQ]),
    (["poll"], [RAW_ALERTS, DLQ]),
])
def test_sinks_and_pollers_whose_topics_are_missing_fail_too(
        command: list[str], expected: list[object], kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    result = run_cli(*command, home=tmp_path, timeout_s=90, env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PRISMAFLOW_WORKER_TOPIC_PREFIX": topic_prefix,
        "PRISMAFLOW_WORKER_GROUP_PREFIX": topic_prefix + "prismaflow", "PRISMAFLOW_WORKER_METRICS_PORT": "0",
        "PRISMAFLOW_POLLER_METRICS_PORT": "0"})
    assert result.returncode != 0
    error = result.stderr_lines[-1]
    assert error.startswith(f"prismaflow {command[0]}: error: topics missing on the broker: ")
    assert all(topic_prefix + spec.name in error for spec in expected)  # type: ignore[attr-defined]


@pytest.mark.broker
def test_with_a_topics_wait_a_worker_waits_for_topics_created_meanwhile_and_fails_once_it_is_over(
        kafka: KafkaSettings, topic_prefix: str) -> None:
    clients = KafkaClients(kafka)
    wanted = [topic_prefix + RAW_ALERTS.name, topic_prefix + DLQ.name]
    started = time.monotonic()
    with pytest.raises(TopicsMissing) as missing:
        require_topics(clients, wanted, wait_s=1.0)
    assert missing.value.missing == tuple(sorted(wanted)) and time.monotonic() - started >= 1.0
    creator = threading.Timer(2.0, create_topics, args=(clients.admin(), (RAW_ALERTS, DLQ)),
                              kwargs={"prefix": topic_prefix})
    creator.start()
    try:
        require_topics(clients, wanted, wait_s=60.0)  # returns once the topics appeared
    finally:
        creator.join()
    assert time.monotonic() - started >= 3.0


def test_with_a_start_wait_the_probe_tries_again_until_the_wait_is_over(closed_port: int) -> None:
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port}")
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable, match="connection refused"):
        require_broker(settings, wait_s=3.0)
    assert 2.0 <= time.monotonic() - started < 10.0
