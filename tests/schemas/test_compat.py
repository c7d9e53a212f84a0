"""The compatibility checker reports what Avro schema resolution would reject, and nothing else.

Each case changes a copy of a real schema in memory the way a careless edit would, and states
which direction breaks: ``backward`` (new readers on released data) and/or ``forward`` (released
readers, e.g. SIEM consumers, on new data). Every case is also proved the hard way: sample data
covering every enum symbol and union branch is written with the writer schema and read with the
reader schema by fastavro, and decoding must fail exactly where the checker reports a problem.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from processors.errors import SchemaError
from schemas import expand, load_schemas
from streams.devtools.compat import check_backward_compatible, check_forward_compatible, check_full_compatible

CURRENT = load_schemas()
Schema = dict[str, Any]


def _field(record: Schema, name: str) -> Schema:
    return next(field for field in record["fields"] if field["name"] == name)


def _alert(scored: Schema) -> Schema:
    alert: Schema = _field(scored, "alert")["type"]
    return alert


def _nested(record: Schema, *names: str) -> Schema:
    for name in names:
        record = _field(record, name)["type"]
        if record.get("type") == "array":
            record = record["items"]
    return record


@dataclass(frozen=True)
class Case:
    name: str
    schema: str
    change: Callable[[Schema], None]
    breaks: frozenset[str]
    message: str = ""
    # False where the checker is deliberately stricter than resolution (logical types).
    provable: bool = True


def _add_required_field(s: Schema) -> None:
    _alert(s)["fields"].append({"name": "owner_email", "type": "string", "doc": "new"})


def _add_defaulted_field(s: Schema) -> None:
    _alert(s)["fields"].append({"name": "owner_email", "type": "string", "doc": "new", "default": ""})


def _remove_required_field(s: Schema) -> None:
    _alert(s)["fields"].remove(_field(_alert(s), "policy_id"))


def _remove_defaulted_field(s: Schema) -> None:
    _alert(s)["fields"].remove(_field(_alert(s), "status_reason"))


def _retype_field(s: Schema) -> None:
    _field(_alert(s), "policy_name")["type"] = "int"


def _widen_int_to_long(s: Schema) -> None:
    _field(s, "score")["type"] = "long"


def _string_to_bytes(s: Schema) -> None:
    _field(_alert(s), "policy_name")["type"] = "bytes"


def _add_symbol_to_enum_without_default(s: Schema) -> None:
    _field(_alert(s), "severity")["type"]["symbols"].append("UNKNOWN")


def _remove_symbol(s: Schema) -> None:
    _field(_alert(s), "severity")["type"]["symbols"].remove("INFORMATIONAL")


def _add_symbol_to_enum_with_default(s: Schema) -> None:
    _field(_nested(_alert(s), "resource"), "cloud")["type"]["symbols"].append("IBM")


def _make_required_field_nullable(s: Schema) -> None:
    field = _field(_alert(s), "policy_id")
    field["type"], field["default"] = ["null", "string"], None


def _make_nullable_field_required(s: Schema) -> None:
    field = _field(s, "incident_id")
    field["type"], field["default"] = "string", ""


def _add_union_branch(s: Schema) -> None:
    _field(s, "incident_id")["type"].append("long")


def _rename_record(s: Schema) -> None:
    _alert(s)["name"] = "io.prismaflow.Finding"


def _rename_record_with_alias(s: Schema) -> None:
    _alert(s)["name"] = "io.prismaflow.Finding"
    _alert(s)["aliases"] = ["io.prismaflow.Alert"]


def _rename_required_field(s: Schema) -> None:
    _field(_alert(s), "policy_name")["name"] = "policy_title"


def _rename_defaulted_field_with_alias(s: Schema) -> None:
    field = _field(_alert(s), "status_reason")
    field["name"], field["aliases"] = "reason", ["status_reason"]


def _retype_array_items(s: Schema) -> None:
    _field(s, "incident_members")["type"]["items"] = "int"


def _retype_map_values(s: Schema) -> None:
    _field(_nested(_alert(s), "resource"), "tags")["type"]["values"] = "long"


def _remove_nested_required_field(s: Schema) -> None:
    resource = _nested(_alert(s), "resource")
    resource["fields"].remove(_field(resource, "resource_id"))


def _change_logical_type(s: Schema) -> None:
    _field(s, "scored_at")["type"]["logicalType"] = "timestamp-micros"


def _reorder_fields_and_edit_docs(s: Schema) -> None:
    s["fields"].reverse()
    for field in s["fields"]:
        field["doc"] = "reworded"


def _resize_fixed(s: Schema) -> None:
    _field(s, "input_hash")["type"] = {"type": "fixed", "name": "Sha256", "size": 16}


def _use_fixed(s: Schema) -> None:
    _field(s, "input_hash")["type"] = {"type": "fixed", "name": "Sha256", "size": 32}


BOTH = frozenset({"backward", "forward"})
BACKWARD = frozenset({"backward"})
FORWARD = frozenset({"forward"})
NONE: frozenset[str] = frozenset()

CASES = [
    Case(
        "add field without default",
        "ScoredAlert",
        _add_required_field,
        BACKWARD,
        "owner_email: reader field has no default",
    ),
    Case("add field with default", "ScoredAlert", _add_defaulted_field, NONE),
    Case(
        "remove field without default",
        "ScoredAlert",
        _remove_required_field,
        FORWARD,
        "policy_id: reader field has no default",
    ),
    Case("remove field with default", "ScoredAlert", _remove_defaulted_field, NONE),
    Case("change string to int", "ScoredAlert", _retype_field, BOTH, "policy_name: writer type"),
    Case(
        "widen int to long", "ScoredAlert", _widen_int_to_long, FORWARD, "score: writer type long cannot be read as int"
    ),
    Case("string to bytes (promotable both ways)", "ScoredAlert", _string_to_bytes, NONE),
    Case(
        "add enum symbol, no enum default", "ScoredAlert", _add_symbol_to_enum_without_default, FORWARD, "['UNKNOWN']"
    ),
    Case("remove enum symbol", "ScoredAlert", _remove_symbol, BACKWARD, "['INFORMATIONAL']"),
    Case("add enum symbol, enum has default", "ScoredAlert", _add_symbol_to_enum_with_default, NONE),
    Case(
        "make required field nullable",
        "ScoredAlert",
        _make_required_field_nullable,
        FORWARD,
        "writer type null cannot be read as string",
    ),
    Case(
        "make nullable field required",
        "ScoredAlert",
        _make_nullable_field_required,
        BACKWARD,
        "incident_id: writer type null",
    ),
    Case("add union branch", "ScoredAlert", _add_union_branch, FORWARD, "matches no branch"),
    Case("rename record", "ScoredAlert", _rename_record, BOTH, "cannot be read as record io.prismaflow."),
    Case(
        "rename record keeping an alias",
        "ScoredAlert",
        _rename_record_with_alias,
        FORWARD,
        "record io.prismaflow.Finding cannot be read",
    ),
    Case("rename required field", "ScoredAlert", _rename_required_field, BOTH, "reader field has no default"),
    Case("rename defaulted field keeping an alias", "ScoredAlert", _rename_defaulted_field_with_alias, NONE),
    Case("change array items", "ScoredAlert", _retype_array_items, BOTH, "incident_members[]: writer type"),
    Case("change map values", "ScoredAlert", _retype_map_values, BOTH, "resource.tags{}: writer type"),
    Case(
        "remove nested field without default",
        "ScoredAlert",
        _remove_nested_required_field,
        FORWARD,
        "resource.resource_id",
    ),
    Case("change logical type", "ScoredAlert", _change_logical_type, BOTH, "logical type changed", provable=False),
    Case("reorder fields and reword docs", "ScoredAlert", _reorder_fields_and_edit_docs, NONE),
    Case("string to fixed", "Analysis", _use_fixed, BOTH, "input_hash: writer type"),
]


def _variant(case: Case) -> tuple[Schema, Schema]:
    old = expand(CURRENT[case.schema])
    assert isinstance(old, dict)
    new = copy.deepcopy(old)
    case.change(new)
    return new, old


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_checker_reports_exactly_the_directions_that_break(case: Case) -> None:
    new, old = _variant(case)
    backward = check_backward_compatible(new, old)
    forward = check_forward_compatible(new, old)

    assert bool(backward) == ("backward" in case.breaks), backward
    assert bool(forward) == ("forward" in case.breaks), forward
    for problem in backward + forward:
        assert case.message in problem
    assert check_full_compatible(new, old) == [f"backward: {p}" for p in backward] + [f"forward: {p}" for p in forward]


@pytest.mark.parametrize("case", [c for c in CASES if c.provable], ids=lambda case: case.name)
def test_fastavro_fails_to_decode_exactly_where_the_checker_reports_a_problem(case: Case) -> None:
    new, old = _variant(case)
    for direction, writer, reader in (("backward", old, new), ("forward", new, old)):
        decodes = all(_decodes(datum, writer, reader) for datum in _samples(writer))
        assert decodes == (direction not in case.breaks), direction


def test_fixed_sizes_must_match() -> None:
    base = expand(CURRENT["Analysis"])
    assert isinstance(base, dict)
    writer, reader = copy.deepcopy(base), copy.deepcopy(base)
    _use_fixed(writer)
    _resize_fixed(reader)
    assert check_backward_compatible(reader, writer) == [
        "Analysis.input_hash: fixed io.prismaflow.Sha256 has size 16, writer wrote 32"
    ]


def test_recursive_types_terminate() -> None:
    tree: dict[str, Any] = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "children", "type": {"type": "array", "items": "Node"}}],
    }
    grown = copy.deepcopy(tree)
    grown["fields"].append({"name": "label", "type": "string"})
    assert check_backward_compatible(tree, tree) == []
    assert check_backward_compatible(grown, tree) == [
        "Node.label: reader field has no default and the writer's Node has no such field"
    ]


def test_union_reader_prefers_an_exact_branch_over_a_promotion() -> None:
    writer = {"type": "record", "name": "R", "fields": [{"name": "n", "type": "int"}]}
    reader = {"type": "record", "name": "R", "fields": [{"name": "n", "type": ["null", "double", "int"]}]}
    assert check_backward_compatible(reader, writer) == []


def test_an_unparseable_schema_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="reader schema is not a valid Avro schema"):
        check_backward_compatible({"type": "record", "name": "R", "fields": [{"name": "x", "type": "Nope"}]}, "null")


# --- sample data ---------------------------------------------------------------------------------

_VARIANTS = 8  # more than any enum's symbols or union's branches, so every one is written


def _decodes(datum: Any, writer: Schema, reader: Schema) -> bool:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(writer, named_schemas={}), datum)
    buffer.seek(0)
    try:
        fastavro.schemaless_reader(
            buffer, fastavro.parse_schema(writer, named_schemas={}), fastavro.parse_schema(reader, named_schemas={})
        )
    except (fastavro.read.SchemaResolutionError, ValueError, TypeError, KeyError, EOFError):
        return False
    return True


def _samples(schema: Schema) -> Iterator[Any]:
    named: dict[str, Any] = {}
    _collect(schema, named)
    for variant in range(_VARIANTS):
        yield _sample(schema, variant, named)


def _collect(schema: Any, named: dict[str, Any]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, named)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            named[schema["name"]] = schema
        for field in schema.get("fields", []):
            _collect(field["type"], named)
        for key in ("items", "values"):
            if key in schema:
                _collect(schema[key], named)


def _sample(schema: Any, variant: int, named: dict[str, Any]) -> Any:
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        return _sample(schema[variant % len(schema)], variant, named)
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        return datetime(2025, 1, 1, 0, 0, variant, tzinfo=UTC)
    kind = schema if isinstance(schema, str) else schema["type"]
    primitives: dict[str, Any] = {
        "null": None,
        "boolean": variant % 2 == 0,
        "int": variant,
        "long": variant,
        "float": variant + 0.5,
        "double": variant + 0.5,
        "bytes": b"b" * variant,
        "string": f"s{variant}",
    }
    if kind in primitives:
        return primitives[kind]
    if kind == "enum":
        return schema["symbols"][variant % len(schema["symbols"])]
    if kind == "fixed":
        return bytes(schema["size"])
    if kind == "array":
        return [_sample(schema["items"], variant, named)]
    if kind == "map":
        return {"k": _sample(schema["values"], variant, named)}
    return {field["name"]: _sample(field["type"], variant, named) for field in schema["fields"]}
