"""Fixtures shared by the whole suite, above all a real Kafka broker.

The ``kafka_bootstrap`` fixture yields the bootstrap servers of a real Apache Kafka broker, found in
this order: ``KAFKA_BOOTSTRAP_SERVERS`` when set; a testcontainers ``apache/kafka`` container when a
Docker engine answers; else the project's own launcher (``streams.devtools.broker.LocalBroker``) on free ports
in a temporary folder. Broker tests are never skipped: if none of the three works, they fail.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from confluent_kafka.admin import AdminClient

from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import CATALOGUE, create_topics

if TYPE_CHECKING:
    from streams.devtools.registry import LocalSchemaRegistry

_BROKER_INFO: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _docker_engine_answers() -> bool:
    """True when a Docker engine answers a ping (``DOCKER_HOST`` or the default socket)."""
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker  # installed with testcontainers

            client = docker.from_env(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - any failure means "no engine here"
            return False
        finally:
            gc.collect()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker for the whole test session."""
    from streams.devtools.broker import wait_for_metadata

    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        wait_for_metadata(configured, 60)
        _BROKER_INFO.update(kind="KAFKA_BOOTSTRAP_SERVERS", bootstrap=configured)
        yield configured
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        from streams.settings import BrokerSettings

        image = f"apache/kafka:{BrokerSettings().kafka_version}"
        with KafkaContainer(image).with_kraft() as container:
            bootstrap = container.get_bootstrap_server()
            _BROKER_INFO.update(kind=f"testcontainers {image}", bootstrap=bootstrap)
            yield bootstrap
        return
    from streams.devtools.broker import LocalBroker
    from streams.settings import BrokerSettings

    home = tmp_path_factory.mktemp("kafka")
    settings = BrokerSettings(home=home, port=_free_port(), controller_port=_free_port())
    broker = LocalBroker(settings)
    broker.start()
    _BROKER_INFO.update(
        kind=f"local launcher, Apache Kafka {settings.kafka_version} (KRaft)",
        bootstrap=settings.bootstrap_servers,
    )
    try:
        yield settings.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSchemaRegistry]:
    """A real Confluent-compatible Schema Registry (Apicurio, in memory) for the whole session.

    Built once from Maven Central into ``.prismaflow/registry/build`` (shared with the CLI), then
    started on a free port; never mocked.
    """
    from streams.devtools.registry import LocalSchemaRegistry

    install_dir = Path(__file__).resolve().parents[1] / ".prismaflow" / "registry" / "build"
    registry = LocalSchemaRegistry(tmp_path_factory.mktemp("registry"), _free_port(), install_dir=install_dir)
    registry.start(timeout_s=180)
    _BROKER_INFO["registry"] = registry.url
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make topic and group names unique per test, readable in broker logs."""
    test_part = request.node.name.replace("[", "-").replace("]", "")[:40]

    def make(kind: str) -> str:
        return f"t.{test_part}.{kind}.{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def topic_prefix(unique_name: Callable[[str], str]) -> str:
    """A prefix that gives a test its own copy of the topic catalogue (``t.<test>.<id>.prisma.*``)."""
    return unique_name("cat") + "."


@pytest.fixture
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    """Client settings for the session's broker."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def catalogue(kafka: KafkaSettings, topic_prefix: str) -> str:
    """This test's own copy of the topic catalogue, created on the broker; returns its prefix."""
    create_topics(AdminClient(kafka.client_config()), CATALOGUE, prefix=topic_prefix)
    return topic_prefix


@pytest.fixture
def serde() -> AvroSerde:
    """The Avro serde without a registry (single-object encoding), as the pipeline runs by default."""
    return AvroSerde()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "kind" in _BROKER_INFO:
        terminalreporter.write_line(
            f"Kafka broker used by broker tests: {_BROKER_INFO['kind']} at {_BROKER_INFO['bootstrap']}"
        )
    if "registry" in _BROKER_INFO:
        terminalreporter.write_line(f"Schema Registry used by registry tests: Apicurio at {_BROKER_INFO['registry']}")
