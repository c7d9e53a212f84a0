"""Fixtures of the stream-layer tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from streams.devtools.registry import LocalSchemaRegistry
from streams.embedded import ServedApp
from streams.schema_registration import register_schemas
from streams.settings import SchemaRegistrySettings
from streams.subjects import catalogue_subjects


@pytest.fixture
def served() -> Iterator[list[ServedApp]]:
    """ASGI apps a test serves over HTTP (append them); stopped when the test ends."""
    apps: list[ServedApp] = []
    yield apps
    for app in apps:
        app.stop()


@pytest.fixture
def catalogue_registry(schema_registry: LocalSchemaRegistry, catalogue: str) -> SchemaRegistrySettings:
    """Settings of the session's Schema Registry, where this test's catalogue has its schemas
    registered (BACKWARD), as ``prismaflow schemas register`` leaves them before a deploy."""
    registry = SchemaRegistrySettings(url=schema_registry.url)
    with SchemaRegistryClient(registry.client_config()) as client:
        register_schemas(client, catalogue_subjects(catalogue), "BACKWARD")
    return registry


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Sets environment variables, a whole table at once, for this test only (monkeypatch undoes them)."""

    def apply(variables: dict[str, str]) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return apply
