"""The Avro schemas: they parse, are documented, mirror the pydantic models, and evolve compatibly."""

from __future__ import annotations

import enum
import io
import json
import shutil
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

import connectors.ports
import processors.models
import processors.records
from processors.errors import SchemaError
from schemas import NAMESPACE, SCHEMA_NAMES, baseline_dir, expand, load_schemas, schema_dir
from streams.devtools.compat import check_full_compatible
from streams.avro_datum import model_to_avro
from tests.factories import FACTORIES

CURRENT = load_schemas()
BASELINE = load_schemas(baseline_dir())
MODELS: dict[str, type[BaseModel]] = {
    name: getattr(module, name)
    for module in (processors.models, processors.records, connectors.ports)
    for name in module.__all__
    if isinstance(getattr(module, name), type) and issubclass(getattr(module, name), BaseModel)
}


# --- loading -------------------------------------------------------------------------------------


def test_there_is_one_schema_file_per_record_and_a_baseline_for_each() -> None:
    assert sorted(p.stem for p in schema_dir().glob("*.avsc")) == sorted(SCHEMA_NAMES)
    assert sorted(p.stem for p in baseline_dir().glob("*.avsc")) == sorted(SCHEMA_NAMES)


def test_every_schema_parses_under_the_project_namespace() -> None:
    assert list(CURRENT) == list(SCHEMA_NAMES)
    assert list(BASELINE) == list(SCHEMA_NAMES)
    for name, schema in CURRENT.items():
        assert schema["name"] == f"{NAMESPACE}.{name}"


def test_every_schema_expands_to_a_self_contained_schema_fastavro_accepts_alone() -> None:
    for schema in CURRENT.values():
        standalone = expand(schema)
        fastavro.parse_schema(json.loads(json.dumps(standalone)), named_schemas={})


def _named_types(schema: Any) -> typing.Iterator[dict[str, Any]]:
    if isinstance(schema, list):
        for branch in schema:
            yield from _named_types(branch)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            yield schema
        for field in schema.get("fields", []):
            yield from _named_types(field["type"])
        for key in ("items", "values"):
            if key in schema:
                yield from _named_types(schema[key])


def test_every_record_enum_and_field_has_a_doc() -> None:
    undocumented = []
    for name, schema in CURRENT.items():
        for named in _named_types(expand(schema)):
            if not str(named.get("doc", "")).strip():
                undocumented.append(f"{name}: type {named['name']}")
            for field in named.get("fields", []):
                if not str(field.get("doc", "")).strip():
                    undocumented.append(f"{name}: field {named['name']}.{field['name']}")
    assert undocumented == []


def test_union_defaults_match_the_first_branch_as_java_readers_require() -> None:
    wrong = []
    for name, schema in CURRENT.items():
        for named in _named_types(expand(schema)):
            for field in named.get("fields", []):
                if isinstance(field["type"], list) and "default" in field:
                    first = field["type"][0]
                    if not fastavro.validate(
                        field["default"], first if first == "null" else expand(first), raise_errors=False
                    ):
                        wrong.append(f"{name}: {named['name']}.{field['name']}")
    assert wrong == []


def _copy_schemas(tmp_path: Path) -> Path:
    for path in schema_dir().glob("*.avsc"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_loading_refuses_a_second_definition_of_a_named_type(tmp_path: Path) -> None:
    folder = _copy_schemas(tmp_path)
    siem = json.loads((folder / "SiemEvent.avsc").read_text())
    severity = next(f for f in siem["fields"] if f["name"] == "severity")
    severity["type"] = {"type": "enum", "name": "Severity", "doc": "again", "symbols": ["LOW", "HIGH"]}
    (folder / "SiemEvent.avsc").write_text(json.dumps(siem))

    with pytest.raises(SchemaError, match="redefines io.prismaflow.Severity"):
        load_schemas(folder)


def test_loading_refuses_unknown_types_wrong_names_and_missing_files(tmp_path: Path) -> None:
    folder = _copy_schemas(tmp_path)
    siem = json.loads((folder / "SiemEvent.avsc").read_text())
    next(f for f in siem["fields"] if f["name"] == "tier")["type"] = "io.prismaflow.Nope"
    (folder / "SiemEvent.avsc").write_text(json.dumps(siem))
    with pytest.raises(SchemaError, match="SiemEvent.avsc is not a valid Avro schema"):
        load_schemas(folder)

    (folder / "SiemEvent.avsc").write_text(json.dumps({**siem, "name": "Other", "fields": []}))
    with pytest.raises(SchemaError, match="defines io.prismaflow.Other, expected io.prismaflow.SiemEvent"):
        load_schemas(folder)

    (folder / "SiemEvent.avsc").unlink()
    with pytest.raises(SchemaError, match="cannot read schema file"):
        load_schemas(folder)


# --- schemas mirror the models -------------------------------------------------------------------

_MISSING = object()


def _model_shape(annotation: Any) -> Any:
    """The Avro shape a pydantic annotation should have (ints and floats by family)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return ("nullable", _model_shape(inner))
    if origin in (list, tuple):  # tuple[X, ...] travels as an Avro array
        return ("array", _model_shape(typing.get_args(annotation)[0]))
    if origin is typing.Literal:
        return "string"
    if origin is dict:
        key, value = typing.get_args(annotation)
        assert key is str
        return ("map", _model_shape(value))
    simple = {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        bytes: "bytes",
        datetime: "timestamp-millis",
    }
    if annotation in simple:
        return simple[annotation]
    if issubclass(annotation, enum.Enum):
        return ("enum", annotation.__name__, tuple(member.name for member in annotation))
    assert issubclass(annotation, BaseModel), annotation
    fields = []
    for name, info in annotation.model_fields.items():
        if info.default is not PydanticUndefined:
            default = list(info.default) if isinstance(info.default, tuple) else info.default
        elif info.default_factory is not None:
            default = info.default_factory()
        else:
            default = _MISSING
        fields.append((name, _model_shape(info.annotation), _avro_default(default)))
    return ("record", annotation.__name__, tuple(fields))


def _avro_default(value: Any) -> Any:
    if value is _MISSING:
        return "<required>"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, BaseModel):
        return model_to_avro(value)
    return value


def _schema_shape(schema: Any, named: dict[str, Any]) -> Any:
    """The same shape, read from a parsed Avro schema."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        assert len(schema) == 2 and schema[0] == "null", f"only ['null', X] unions are used: {schema}"
        return ("nullable", _schema_shape(schema[1], named))
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        assert schema["type"] == "long"
        return "timestamp-millis"
    kind = schema if isinstance(schema, str) else schema["type"]
    families = {"int": "integer", "long": "integer", "float": "number", "double": "number"}
    if kind in families:
        return families[kind]
    if kind in ("string", "boolean", "bytes"):
        return kind
    short = str(schema.get("name", "")).rpartition(".")[2]
    if kind == "enum":
        return ("enum", short, tuple(schema["symbols"]))
    if kind == "array":
        return ("array", _schema_shape(schema["items"], named))
    if kind == "map":
        return ("map", _schema_shape(schema["values"], named))
    assert kind == "record", schema
    fields = tuple(
        (field["name"], _schema_shape(field["type"], named), field.get("default", "<required>"))
        for field in schema["fields"]
    )
    return ("record", short, fields)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_mirrors_its_model_field_by_field(name: str) -> None:
    """Names, order, types, nullability and defaults of every field, nested records included."""
    schema = CURRENT[name]
    assert _schema_shape(schema, schema["__named_schemas"]) == _model_shape(MODELS[name])


def test_enum_symbols_are_the_python_member_names() -> None:
    # The values need not be valid Avro symbols ("alibaba_cloud" is, "audit-event" would not be);
    # member names always are, and the serde converts.
    assert _model_shape(processors.models.Cloud)[2] == ("AWS", "AZURE", "GCP", "OCI", "ALIBABA", "OTHER")


def test_every_topic_in_the_catalogue_carries_a_record_with_a_schema() -> None:
    from streams.topics import CATALOGUE

    assert {topic.value_schema for topic in CATALOGUE} <= set(SCHEMA_NAMES)


def test_every_record_with_a_schema_has_a_factory() -> None:
    assert sorted(FACTORIES) == sorted(SCHEMA_NAMES)


# --- evolution -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_current_schema_is_fully_compatible_with_its_released_baseline(name: str) -> None:
    """New readers read released data and released readers read new data (FULL compatibility).

    When this fails, the change would break a consumer: give new fields defaults, keep removed
    fields' defaults, add enum symbols only where the enum has a default.
    """
    assert check_full_compatible(CURRENT[name], BASELINE[name]) == []


def _round_trip(datum: Any, writer: Any, reader: Any) -> Any:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, writer, datum)
    buffer.seek(0)
    return fastavro.schemaless_reader(buffer, writer, reader)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_released_data_decodes_with_the_current_schema_and_back(name: str) -> None:
    """Data a released writer wrote decodes with the current schema and re-encodes to the same
    released data; a released reader reads current data as the same released data (fields added
    since the release are what it skips)."""
    datum = model_to_avro(FACTORIES[name]())
    released = _round_trip(datum, BASELINE[name], BASELINE[name])  # what a released writer writes of it
    current = _round_trip(released, BASELINE[name], CURRENT[name])
    assert _round_trip(current, CURRENT[name], BASELINE[name]) == released
    assert _round_trip(datum, CURRENT[name], BASELINE[name]) == released
    assert _round_trip(datum, CURRENT[name], CURRENT[name]) == datum


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_naming_union_branches_changes_no_byte_of_the_encoding(name: str) -> None:
    record = FACTORIES[name]()
    plain, named = io.BytesIO(), io.BytesIO()
    fastavro.schemaless_writer(plain, CURRENT[name], model_to_avro(record))
    fastavro.schemaless_writer(named, CURRENT[name], model_to_avro(record, name_union_branches=True))
    assert named.getvalue() == plain.getvalue()
