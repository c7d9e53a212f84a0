"""`prismaflow schemas register|check` against a real registry (the local Apicurio launcher).

Each test works under its own topic prefix, so its subjects are its own in the session's registry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from processors.errors import ConfigurationError
from schemas import load_schemas
from streams.cli import main
from streams.devtools.registry import LocalSchemaRegistry
from streams.schema_registration import Outcome, check_schemas, register_schemas
from streams.serde import AvroSerde, SerdeSettings
from streams.settings import SchemaRegistrySettings
from streams.subjects import catalogue_subjects, registry_schema_text
from streams.topics import ALERTS, CATALOGUE, RAW_ALERTS
from tests.factories import FACTORIES

pytestmark = pytest.mark.slow


@pytest.fixture
def client(schema_registry: LocalSchemaRegistry) -> SchemaRegistryClient:
    with SchemaRegistryClient({"url": schema_registry.url}) as registry_client:
        yield registry_client


@pytest.fixture
def prefix(unique_name: Callable[[str], str]) -> str:
    return unique_name("sr") + "."


def _with_field(schemas: dict[str, dict[str, Any]], name: str, field: dict[str, Any]) -> dict[str, dict[str, Any]]:
    changed = copy.deepcopy(schemas)  # keeps the sharing: records holding this one see the field too
    changed[name]["fields"].append(field)
    return changed


def test_register_puts_every_topic_record_under_its_subject_with_the_compatibility_level(
    client: SchemaRegistryClient, prefix: str
) -> None:
    subjects = catalogue_subjects(prefix)

    results = register_schemas(client, subjects, "FULL")

    assert [r.outcome for r in results] == [Outcome.REGISTERED] * len(subjects)
    registered = set(client.get_subjects())
    assert {f"{prefix}{spec.name}-value" for spec in CATALOGUE} <= registered
    assert f"{prefix}{RAW_ALERTS.name}-io.prismaflow.AssetLink" in registered
    alerts = f"{prefix}{ALERTS.name}-value"
    assert client.get_latest_version(alerts).schema.schema_str is not None
    assert client.get_compatibility(alerts) == "FULL"
    # Safe on every deploy: the same schemas again change nothing.
    again = register_schemas(client, subjects, "FULL")
    assert [r.detail for r in again] == [r.detail for r in results]
    assert client.get_latest_version(alerts).version == 1


def test_a_producer_without_auto_register_uses_the_registered_schema_and_refuses_an_unregistered_one(
    schema_registry: LocalSchemaRegistry, client: SchemaRegistryClient, prefix: str
) -> None:
    settings = SerdeSettings(registry=SchemaRegistrySettings(url=schema_registry.url))
    alert = FACTORIES["Alert"]()
    with AvroSerde(settings) as serde:
        with pytest.raises(ConfigurationError, match=rf"{prefix}{ALERTS.name}-value.*prismaflow schemas register"):
            serde.encode(alert, topic=prefix + ALERTS.name)

    register_schemas(client, catalogue_subjects(prefix), "BACKWARD")

    with AvroSerde(settings) as serde:
        data = serde.encode(alert, topic=prefix + ALERTS.name)
        assert data[0] == 0
        assert int.from_bytes(data[1:5], "big") == client.get_latest_version(f"{prefix}{ALERTS.name}-value").schema_id
        assert serde.decode(data, type(alert), topic=prefix + ALERTS.name) == alert
        link = FACTORIES["AssetLink"]()
        assert serde.decode(serde.encode(link, topic=prefix + RAW_ALERTS.name), type(link),
                            topic=prefix + RAW_ALERTS.name) == link


def test_check_accepts_a_field_added_with_a_default_and_names_the_subject_a_field_without_one_breaks(
    client: SchemaRegistryClient, prefix: str
) -> None:
    subjects = catalogue_subjects(prefix)
    schemas = load_schemas()
    assert {r.outcome for r in check_schemas(client, subjects, schemas)} == {Outcome.NEW}
    register_schemas(client, subjects, "BACKWARD")
    assert {r.outcome for r in check_schemas(client, subjects, schemas)} == {Outcome.COMPATIBLE}

    with_default = _with_field(schemas, "Alert", {"name": "team", "type": ["null", "string"], "default": None})
    assert {r.outcome for r in check_schemas(client, subjects, with_default)} == {Outcome.COMPATIBLE}

    without_default = _with_field(schemas, "Alert", {"name": "team", "type": "string"})
    failed = [r for r in check_schemas(client, subjects, without_default) if r.outcome.failed]
    # The Alert subject, and every subject whose record holds an Alert (schemas are registered
    # self-contained, so a nested record's change is that subject's change too).
    holding_alert = [s.name for s in subjects if '"team"' in registry_schema_text(without_default[s.schema_name])]
    assert f"{prefix}{ALERTS.name}-value" in holding_alert
    assert [r.subject.name for r in failed] == holding_alert
    assert {r.outcome for r in failed} == {Outcome.INCOMPATIBLE}


def test_the_commands_exit_non_zero_naming_the_subject_the_registry_refuses(
    schema_registry: LocalSchemaRegistry, client: SchemaRegistryClient, prefix: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What an older release registered: a first Alert that today's Alert cannot read (the fields
    # it added have no default), under the compatibility level the command sets.
    subject = f"{prefix}{ALERTS.name}-value"
    old = '{"type": "record", "name": "Alert", "namespace": "io.prismaflow", "fields": [{"name": "x", "type": "int"}]}'
    client.register_schema(subject, Schema(old, "AVRO"))
    client.set_compatibility(subject, "BACKWARD")
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry.url)
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", prefix)

    assert main(["schemas", "check"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {subject}" in out and f"failed: {subject}" in out
    assert out.count("FAIL") == 1 and f"ok   {prefix}{RAW_ALERTS.name}-value" in out

    assert main(["schemas", "register"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {subject}" in out and "refused" in out
    assert client.get_latest_version(subject).version == 1
    assert main(["schemas", "check"]) == 1  # the other subjects are registered now, this one still fails
    assert capsys.readouterr().out.count("FAIL") == 1


def test_the_commands_need_a_registry_url(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)

    assert main(["schemas", "check"]) == 2
    assert "SCHEMA_REGISTRY_URL is not set" in capsys.readouterr().err
