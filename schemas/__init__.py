"""The Avro schemas of Prismaflow's records, and the few operations every user of them needs.

One ``.avsc`` file per record, named after the pydantic model it mirrors (``Alert.avsc`` ↔
:class:`processors.models.Alert`), all in namespace ``io.prismaflow``. A named type (enum or nested
record) is defined once, at its first use in :data:`SCHEMA_NAMES` order, and later files refer to
it by full name: ``ScoredAlert.avsc`` says ``"type": "io.prismaflow.Alert"``. :func:`load_schemas`
therefore parses the files in that order with one shared table of named types.

``baseline/`` holds the schemas as last released. Tests check that the current schemas stay
compatible with it (see :mod:`streams.devtools.compat`), and the serde keeps it so that data written with
the released schemas still decodes. On a release, copy the current files over the baseline.

Call :func:`load_schemas` once at start-up, never per message. Besides loading, this module makes
a schema self-contained (:func:`expand`, for a schema registry or a reader without the other
files), computes its Parsing Canonical Form (:func:`parsing_canonical_form`) and its CRC-64-AVRO
fingerprint (:func:`fingerprint`), as the Avro specification defines them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, TypeAlias

import fastavro
from fastavro.schema import SchemaParseException

from processors.errors import SchemaError

__all__ = [
    "NAMESPACE",
    "SCHEMA_NAMES",
    "AvroSchema",
    "schema_dir",
    "baseline_dir",
    "load_schemas",
    "expand",
    "parsing_canonical_form",
    "rabin_fingerprint64",
    "fingerprint",
]

AvroSchema: TypeAlias = "str | list[Any] | dict[str, Any]"
"""A schema as JSON data: a type name, a union (list) or a complex type (dict)."""

NAMESPACE = "io.prismaflow"

SCHEMA_NAMES: tuple[str, ...] = (
    "RawAlert",
    "Alert",
    "ScoredAlert",
    "Analysis",
    "TicketState",
    "AuditRecord",
    "RemediationRequest",
    "RemediationDecision",
    "SiemEvent",
    "DeadLetter",
    "SourceCheckpoint",
    "ScoringState",
    "AssetLink",
)
"""Every record schema, in load order: a file refers only to named types of files before it.

Most models live in :mod:`processors.models` and :mod:`processors.records`; ``SourceCheckpoint``
is :class:`connectors.ports.SourceCheckpoint`.
"""

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})


def schema_dir() -> Path:
    """The folder that holds the current ``.avsc`` files."""
    return Path(__file__).parent


def baseline_dir() -> Path:
    """The folder that holds the ``.avsc`` files as last released."""
    return Path(__file__).parent / "baseline"


def load_schemas(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Read and parse every schema of :data:`SCHEMA_NAMES` from ``directory`` (default: current).

    Returns ``{record name: fastavro-parsed schema}``; each parsed schema carries the named types
    it refers to, so it can be handed to fastavro's readers and writers as it is. Files are parsed
    in order with one shared table of named types, so cross-file references resolve.

    Raises :class:`SchemaError` when a file is missing, is not JSON, is not a valid Avro schema,
    names a record other than its file name, refers to an unknown type, or defines a named type
    that an earlier file already defined.
    """
    folder = schema_dir() if directory is None else directory
    named: dict[str, Any] = {}
    parsed: dict[str, dict[str, Any]] = {}
    for name in SCHEMA_NAMES:
        path = folder / f"{name}.avsc"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {path}: {exc}") from exc
        except ValueError as exc:
            raise SchemaError(f"schema file {path} is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("type") != "record":
            raise SchemaError(f"schema file {path} must hold one record schema")
        redefined = sorted(set(_defined_names(raw)) & set(named))
        if redefined:
            raise SchemaError(f"schema file {path} redefines {', '.join(redefined)}; refer to it by full name")
        try:
            schema = fastavro.parse_schema(raw, named_schemas=named)
        except (SchemaParseException, ValueError, TypeError, KeyError) as exc:
            raise SchemaError(f"schema file {path} is not a valid Avro schema: {exc}") from exc
        if not isinstance(schema, dict):  # pragma: no cover - a record parses to a dict
            raise SchemaError(f"schema file {path} did not parse to a record")
        if schema["name"] != f"{NAMESPACE}.{name}":
            raise SchemaError(f"schema file {path} defines {schema['name']}, expected {NAMESPACE}.{name}")
        parsed[name] = schema
    return parsed


def expand(schema: AvroSchema, named: dict[str, Any] | None = None) -> AvroSchema:
    """Return a self-contained copy of ``schema``: every named type it uses is defined inline.

    A named type is written out in full at its first use (depth first, fields in order) and
    referred to by full name after that, which is what a schema registry or a reader that lacks
    the other ``.avsc`` files needs. fastavro's bookkeeping keys are dropped; docs, defaults and
    aliases are kept. ``named`` supplies definitions for name references; a fastavro-parsed schema
    carries its own. Raises :class:`SchemaError` on a reference to an unknown type.
    """
    table: dict[str, Any] = {}
    if isinstance(schema, dict):
        table.update(schema.get("__named_schemas", {}))
    table.update(named or {})
    expanded: AvroSchema = _expand(schema, table, set(), "")
    return expanded


def _expand(schema: Any, table: dict[str, Any], done: set[str], namespace: str) -> Any:
    if isinstance(schema, list):
        return [_expand(branch, table, done, namespace) for branch in schema]
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return schema
        full = _fullname(schema, namespace)
        if full in done:
            return full
        if full not in table:
            raise SchemaError(f"unknown named type {schema!r}")
        return _expand(table[full], table, done, namespace)
    if not isinstance(schema, dict):
        raise SchemaError(f"not an Avro schema: {schema!r}")
    kind = schema.get("type")
    out = {key: value for key, value in schema.items() if not key.startswith("__")}
    if kind in _NAMED:
        full = _fullname(str(schema["name"]), str(schema.get("namespace", namespace)))
        if full in done:
            # Defined inline where another file first used it (Alert's Module, met again inside
            # ScoringState after Finding defined it): one definition only, refer to it after that.
            return full
        done.add(full)
        namespace = full.rpartition(".")[0]
        out.pop("namespace", None)
        out["name"] = full
        if kind in ("record", "error"):
            out["fields"] = [
                {**field, "type": _expand(field["type"], table, done, namespace)} for field in schema["fields"]
            ]
        return copy.deepcopy(out)
    if kind == "array":
        out["items"] = _expand(schema["items"], table, done, namespace)
    elif kind == "map":
        out["values"] = _expand(schema["values"], table, done, namespace)
    elif isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind not in _PRIMITIVES):
        # {"type": {...}} or {"type": "io.prismaflow.X"}: a wrapped type, not a new definition.
        return _expand(kind, table, done, namespace)
    return copy.deepcopy(out)


def parsing_canonical_form(schema: AvroSchema) -> str:
    """The schema's Parsing Canonical Form, per the Avro specification.

    Applies the spec's transformations: PRIMITIVES (``{"type":"int"}`` → ``"int"``), FULLNAMES,
    STRIP (keep only type, name, fields, symbols, items, values, size), ORDER, STRINGS, INTEGERS
    and WHITESPACE. The schema must be self-contained (see :func:`expand`); a named type is
    written in full at its first occurrence and by full name after. Two schemas that read and
    write data the same way have the same canonical form, whatever their docs and defaults.
    """
    return _canonical(schema, "", set())


def _canonical(schema: Any, namespace: str, seen: set[str]) -> str:
    if isinstance(schema, str):
        return json.dumps(schema if schema in _PRIMITIVES else _fullname(schema, namespace))
    if isinstance(schema, list):
        return "[" + ",".join(_canonical(branch, namespace, seen) for branch in schema) + "]"
    if not isinstance(schema, dict):
        raise SchemaError(f"not an Avro schema: {schema!r}")
    kind = schema["type"]
    if not isinstance(kind, str) or (kind not in _NAMED and kind not in ("array", "map")):
        return _canonical(kind, namespace, seen)  # {"type": "int", "logicalType": ...} and wrappers
    if kind == "array":
        return '{"type":"array","items":' + _canonical(schema["items"], namespace, seen) + "}"
    if kind == "map":
        return '{"type":"map","values":' + _canonical(schema["values"], namespace, seen) + "}"
    full = _fullname(str(schema["name"]), str(schema.get("namespace", namespace)))
    if full in seen:
        return json.dumps(full)
    seen.add(full)
    inner = full.rpartition(".")[0]
    head = '{"name":' + json.dumps(full) + ',"type":' + json.dumps("record" if kind == "error" else kind)
    if kind == "enum":
        return head + ',"symbols":' + json.dumps(list(schema["symbols"]), separators=(",", ":")) + "}"
    if kind == "fixed":
        return head + ',"size":' + str(int(schema["size"])) + "}"
    fields = ",".join(
        '{"name":' + json.dumps(field["name"]) + ',"type":' + _canonical(field["type"], inner, seen) + "}"
        for field in schema["fields"]
    )
    return head + ',"fields":[' + fields + "]}"


def _fullname(name: str, namespace: str) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _defined_names(schema: Any, namespace: str = "") -> list[str]:
    """Full names of the named types that ``schema`` (raw JSON) defines, in order."""
    if isinstance(schema, list):
        return [name for branch in schema for name in _defined_names(branch, namespace)]
    if not isinstance(schema, dict):
        return []
    kind = schema.get("type")
    if kind in _NAMED:
        full = _fullname(str(schema["name"]), str(schema.get("namespace", namespace)))
        inner = full.rpartition(".")[0]
        nested = [n for field in schema.get("fields", []) for n in _defined_names(field["type"], inner)]
        return [full, *nested]
    if kind == "array":
        return _defined_names(schema["items"], namespace)
    if kind == "map":
        return _defined_names(schema["values"], namespace)
    return _defined_names(kind, namespace) if isinstance(kind, (dict, list)) else []


_EMPTY64 = 0xC15D213AA4D7A795


def _rabin_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return tuple(table)


_RABIN_TABLE = _rabin_table()


def rabin_fingerprint64(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) fingerprint of ``data`` as an unsigned 64-bit integer, per the Avro spec."""
    fp = _EMPTY64
    for byte in data:
        fp = (fp >> 8) ^ _RABIN_TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(schema: AvroSchema) -> bytes:
    """The 8 bytes that identify ``schema`` in Avro single-object encoding.

    CRC-64-AVRO of the Parsing Canonical Form of the self-contained schema, little-endian, as
    the spec's single-object encoding and the Java implementation write it.
    """
    canonical = parsing_canonical_form(expand(schema))
    return rabin_fingerprint64(canonical.encode("utf-8")).to_bytes(8, "little")
