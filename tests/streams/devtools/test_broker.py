"""The local broker launcher and the session broker fixture: a real Kafka broker, started safely."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from processors.errors import ConfigurationError
from streams.devtools import broker as broker_module
from streams.devtools.broker import LocalBroker
from streams.errors import BrokerError
from streams.settings import BrokerSettings
from tests.conftest import _free_port

pytestmark = pytest.mark.broker


def _java_brokers_under(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "kafka.Kafka" in cmdline and any(str(home) in part for part in cmdline):
            found.append(proc)
    return found


def test_session_broker_is_a_real_kafka_that_stores_and_returns_messages(
    kafka_bootstrap: str, unique_name
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    metadata = admin.list_topics(timeout=10)
    assert len(metadata.brokers) == 1
    topic = unique_name("echo")
    from confluent_kafka.admin import NewTopic

    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, key=b"k", value=b"hello kafka")
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": unique_name("g"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.value() == b"hello kafka"
    finally:
        consumer.close()


def test_start_twice_is_safe_and_stop_leaves_no_java_process(tmp_path: Path) -> None:
    settings = BrokerSettings(home=tmp_path / "b", port=_free_port(), controller_port=_free_port())
    broker = LocalBroker(settings)
    first = broker.start()
    try:
        second = broker.start()
        assert first.running and second.running
        assert second.pid == first.pid
        assert len(_java_brokers_under(settings.home)) == 1
        # A second launcher object (a second CLI invocation) sees the same broker.
        assert LocalBroker(settings).status().pid == first.pid
    finally:
        assert broker.stop() is True
    assert _java_brokers_under(settings.home) == []
    assert broker.status().running is False
    assert broker.stop() is False  # stopping a stopped broker is a no-op


def test_cli_start_status_stop_round_trip(tmp_path: Path) -> None:
    env = {
        "PATH": __import__("os").environ["PATH"],
        "HOME": __import__("os").environ.get("HOME", "/root"),
        "PRISMAFLOW_BROKER_HOME": str(tmp_path / "cli"),
        "PRISMAFLOW_BROKER_PORT": str(_free_port()),
        "PRISMAFLOW_BROKER_CONTROLLER_PORT": str(_free_port()),
    }
    run = lambda *a: subprocess.run([sys.executable, "-m", "streams.cli", *a], env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=180)
    try:
        started = run("broker", "start")
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("started:")
        again = run("broker", "start")
        assert again.returncode == 0 and again.stdout.startswith("already running:")
        assert run("broker", "status").returncode == 0
    finally:
        stopped = run("broker", "stop")
    assert stopped.stdout.strip() == "stopped"
    assert run("broker", "status").returncode == 1
    assert _java_brokers_under(tmp_path / "cli") == []


def test_a_taken_port_gives_a_clear_error(tmp_path: Path, kafka_bootstrap: str) -> None:
    host, _, port = kafka_bootstrap.rpartition(":")
    settings = BrokerSettings(home=tmp_path / "c", host=host, port=int(port), controller_port=_free_port())
    with pytest.raises(BrokerError, match="taken by another process"):
        LocalBroker(settings).start()


def test_missing_java_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ConfigurationError, match="Java 17"):
        broker_module.find_java()


def test_missing_maven_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = broker_module.find_java()
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("JAVA_HOME", str(Path(java).resolve().parents[1]))
    settings = BrokerSettings(home=tmp_path / "m", jar_cache=tmp_path / "empty-cache")
    with pytest.raises(ConfigurationError, match="Maven"):
        LocalBroker(settings).ensure_installed()


def test_extra_properties_reach_server_properties_and_a_malformed_one_is_refused(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerSettings(home=tmp_path, properties="num.io.threads=2, num.network.threads = 2"))
    broker._write_config()
    lines = broker.config_file.read_text().splitlines()
    assert "num.io.threads=2" in lines and "num.network.threads=2" in lines
    with pytest.raises(ConfigurationError, match="not key=value"):
        LocalBroker(BrokerSettings(home=tmp_path, properties="num.io.threads")).\
            _write_config()
