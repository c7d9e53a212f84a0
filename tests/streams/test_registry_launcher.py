"""The local schema registry launcher against a real Apicurio Registry (no mocks, no Docker).

The first run builds the registry with Maven from Maven Central (about a minute on a cold cache,
cached in ``.prismaflow/registry`` afterwards); each start takes a few seconds.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from processors.errors import ConfigurationError
from streams.registry import LocalSchemaRegistry


_PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The build is shared with `prismaflow registry start`, so it is done once per checkout.
_INSTALL_DIR = _PROJECT_ROOT / ".prismaflow" / "registry" / "build"

_ALERT_V1 = json.dumps(
    {
        "type": "record",
        "name": "Alert",
        "namespace": "io.prismaflow.test",
        "fields": [{"name": "id", "type": "string"}],
    }
)
_ALERT_V2_COMPATIBLE = json.dumps(
    {
        "type": "record",
        "name": "Alert",
        "namespace": "io.prismaflow.test",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "severity", "type": "string", "default": "low"},
        ],
    }
)
_ALERT_V2_INCOMPATIBLE = json.dumps(
    {
        "type": "record",
        "name": "Alert",
        "namespace": "io.prismaflow.test",
        "fields": [{"name": "id", "type": "long"}],
    }
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSchemaRegistry]:
    """Build (once) and start a registry on a free port; stop it afterwards.

    Meant to back a session-scoped fixture in ``tests/conftest.py``::

        @pytest.fixture(scope="session")
        def schema_registry(tmp_path_factory):
            yield from start_local_registry(tmp_path_factory)
    """
    # Pid file and log per test session; the build is shared with the CLI's cache.
    registry = LocalSchemaRegistry(
        tmp_path_factory.mktemp("registry"), _free_port(), install_dir=_INSTALL_DIR
    )
    registry.start(timeout_s=120)
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSchemaRegistry]:
    yield from start_local_registry(tmp_path_factory)


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_missing_java_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ConfigurationError, match="Java"):
        LocalSchemaRegistry(tmp_path / "state").ensure_installed()


def test_missing_maven_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    (java_home / "bin" / "java").write_text("#!/bin/sh\n")
    monkeypatch.setenv("JAVA_HOME", str(java_home))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="Maven"):
        LocalSchemaRegistry(tmp_path / "state").ensure_installed()


@pytest.mark.slow
def test_fresh_registry_has_no_subjects(registry: LocalSchemaRegistry) -> None:
    assert registry.url.endswith("/apis/ccompat/v7")
    assert _get(f"{registry.url}/subjects") == []


@pytest.mark.slow
def test_register_and_fetch_avro_schema(registry: LocalSchemaRegistry) -> None:
    # The client must be closed: an unclosed one leaks its HTTP connection (ResourceWarning).
    with SchemaRegistryClient({"url": registry.url}) as client:
        schema_id = client.register_schema("alerts-value", Schema(_ALERT_V1, "AVRO"))

        fetched = client.get_schema(schema_id)
        assert fetched.schema_type == "AVRO"
        assert json.loads(fetched.schema_str) == json.loads(_ALERT_V1)
        assert "alerts-value" in client.get_subjects()
        latest = client.get_latest_version("alerts-value")
        assert latest.schema_id == schema_id
        assert latest.version == 1
        # Registering the same schema again is idempotent, as in Confluent.
        assert client.register_schema("alerts-value", Schema(_ALERT_V1, "AVRO")) == schema_id


@pytest.mark.slow
def test_compatibility_check_is_backward_by_default(registry: LocalSchemaRegistry) -> None:
    with SchemaRegistryClient({"url": registry.url}) as client:
        client.register_schema("compat-value", Schema(_ALERT_V1, "AVRO"))

        assert client.test_compatibility("compat-value", Schema(_ALERT_V2_COMPATIBLE, "AVRO"))
        assert not client.test_compatibility(
            "compat-value", Schema(_ALERT_V2_INCOMPATIBLE, "AVRO")
        )


@pytest.mark.slow
def test_start_is_idempotent_and_status_reports(registry: LocalSchemaRegistry) -> None:
    pid = registry.status().pid
    registry.start()
    status = registry.status()
    assert status.running
    assert status.pid == pid is not None
    assert status.url == registry.url


@pytest.mark.slow
def test_stop_leaves_no_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A registry of its own, so stopping it does not disturb the shared one."""
    psutil = pytest.importorskip("psutil")
    gen = start_local_registry(tmp_path_factory)
    registry = next(gen)
    pid = registry.status().pid
    assert pid is not None
    java = psutil.Process(pid)

    with pytest.raises(StopIteration):
        next(gen)  # runs the fixture's `finally: stop()`

    assert not psutil.pid_exists(pid), java
    marker = str(registry.state_dir.resolve())
    leftovers = [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if any(marker in arg for arg in proc.info["cmdline"] or ())
    ]
    assert leftovers == []
    assert registry.status().pid is None
    assert not registry.status().running
    assert not registry.pid_file.exists()
    registry.stop()  # stopping again is harmless
