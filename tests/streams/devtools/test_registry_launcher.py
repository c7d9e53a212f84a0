"""The local schema registry launcher against a real Apicurio Registry (no mocks, no Docker).

The first run builds the registry with Maven from Maven Central (about a minute on a cold cache,
cached in ``.prismaflow/registry`` afterwards); each start takes a few seconds.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from processors.errors import ConfigurationError
from streams.devtools.registry import LocalSchemaRegistry

from tests.conftest import _free_port

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


@pytest.fixture(scope="module")
def registry(schema_registry: LocalSchemaRegistry) -> LocalSchemaRegistry:
    return schema_registry


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
def test_registry_serves_the_confluent_compatible_api(registry: LocalSchemaRegistry) -> None:
    assert registry.url.endswith("/apis/ccompat/v7")
    subjects = _get(f"{registry.url}/subjects")
    assert isinstance(subjects, list)  # other tests of the session may have registered some


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
def test_stop_leaves_no_process(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> None:
    """A registry of its own, so stopping it does not disturb the shared one."""
    import psutil

    install_dir = repo_root / ".prismaflow" / "registry" / "build"
    registry = LocalSchemaRegistry(tmp_path_factory.mktemp("registry"), _free_port(), install_dir=install_dir)
    registry.start(timeout_s=180)
    pid = registry.status().pid
    assert pid is not None
    java = psutil.Process(pid)

    registry.stop()

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
