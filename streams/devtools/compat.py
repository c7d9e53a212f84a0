"""Static Avro schema-compatibility checks, by the specification's schema-resolution rules.

Prismaflow evolves its schemas under FULL compatibility: a new schema must read data written with
the old one (BACKWARD: our upgraded consumers read what is already on the topics) and the old
schema must read data written with the new one (FORWARD: SIEM consumers and not-yet-upgraded
workers keep their old readers). :func:`check_full_compatible` checks both; the tests run it
against ``schemas/baseline`` so an incompatible change fails before it is released.

The core, :func:`check_backward_compatible`, answers "can a reader with this schema decode every
datum written with that one?" by the rules of the Avro specification ("Schema Resolution"):

- primitives match when equal or when the writer's type promotes to the reader's:
  int → long, float, double; long → float, double; float → double; string ↔ bytes;
- records, enums and fixed match by unqualified name, or when the reader lists the writer's name
  among its aliases; fixed sizes must be equal;
- record fields match by name or reader field alias; a writer field the reader lacks is skipped;
  a reader field the writer lacks needs a default;
- an enum symbol the writer may write and the reader lacks needs the reader enum's default;
- a writer union is readable when every branch is; a reader union reads a writer type when one
  branch matches it (an exact match is preferred over a promotion, as Java's resolver does);
- arrays and maps resolve their items and values.

One rule is stricter than the spec: a change of logical type (``timestamp-millis`` to ``-micros``,
or a logical type added or removed) is reported, because the bytes still decode but mean
something else.

Each function returns a list of human-readable problems, each starting with the path of the
field concerned; an empty list means compatible. A schema that cannot be parsed at all raises
:class:`~processors.errors.SchemaError`.
"""

from __future__ import annotations

from typing import Any

import fastavro
from fastavro.schema import SchemaParseException

from processors.errors import SchemaError

__all__ = ["check_backward_compatible", "check_forward_compatible", "check_full_compatible"]

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}
_COMPLEX = frozenset({"record", "error", "enum", "fixed", "array", "map"})
_LOGICAL_KEYS = ("logicalType", "precision", "scale")


def check_backward_compatible(reader_schema: Any, writer_schema: Any) -> list[str]:
    """Problems a reader using ``reader_schema`` would have decoding data written with ``writer_schema``.

    Called by tests and release tooling with the new schema as reader and the released one as
    writer (hence the name); swap them to ask the forward question. Accepts raw JSON schemas or
    fastavro-parsed ones (which carry their named types). Empty list: compatible.
    """
    reader, reader_names = _parse(reader_schema, "reader")
    writer, writer_names = _parse(writer_schema, "writer")
    resolver = _Resolver(reader_names, writer_names)
    resolver.resolve(reader, writer, _root_path(reader))
    return resolver.problems


def check_forward_compatible(new_schema: Any, old_schema: Any) -> list[str]:
    """Problems an old reader (``old_schema``) would have with data written with ``new_schema``."""
    return check_backward_compatible(old_schema, new_schema)


def check_full_compatible(new_schema: Any, old_schema: Any) -> list[str]:
    """Problems in either direction between ``new_schema`` and ``old_schema``, each labelled.

    ``backward:`` problems stop new readers from decoding old data; ``forward:`` problems stop
    old readers (SIEM consumers, workers not yet upgraded) from decoding new data.
    """
    backward = [f"backward: {problem}" for problem in check_backward_compatible(new_schema, old_schema)]
    forward = [f"forward: {problem}" for problem in check_forward_compatible(new_schema, old_schema)]
    return backward + forward


def _parse(schema: Any, role: str) -> tuple[Any, dict[str, Any]]:
    named: dict[str, Any] = {}
    try:
        parsed = fastavro.parse_schema(schema, named_schemas=named)
    except (SchemaParseException, ValueError, TypeError, KeyError) as exc:
        raise SchemaError(f"{role} schema is not a valid Avro schema: {exc}") from exc
    if isinstance(parsed, dict):
        named.update(parsed.get("__named_schemas", {}))
    return parsed, named


def _root_path(schema: Any) -> str:
    if isinstance(schema, dict) and "name" in schema:
        return _short(str(schema["name"]))
    return "<root>"


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def _kind(schema: Any) -> str:
    """The schema's type: a primitive name, record/enum/fixed/array/map, or union."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    return str(schema["type"])


def _describe(schema: Any) -> str:
    kind = _kind(schema)
    if kind in ("record", "error", "enum", "fixed"):
        return f"{kind} {schema['name']}"
    if kind == "union":
        return "union [" + ", ".join(_describe(branch) for branch in schema) + "]"
    if kind == "array":
        return f"array<{_describe(schema['items'])}>"
    if kind == "map":
        return f"map<{_describe(schema['values'])}>"
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    return f"{kind} ({logical})" if logical else kind


class _Resolver:
    """One compatibility walk: reader and writer named-type tables, problems found so far."""

    def __init__(self, reader_names: dict[str, Any], writer_names: dict[str, Any]) -> None:
        self.reader_names = reader_names
        self.writer_names = writer_names
        self.problems: list[str] = []
        # (reader record, writer record) pairs already checked: stops recursive types looping.
        self._visited: set[tuple[str, str]] = set()

    @staticmethod
    def _deref(schema: Any, names: dict[str, Any]) -> Any:
        """Follow name references and ``{"type": <type>}`` wrappers to the schema they stand for."""
        while True:
            if isinstance(schema, str) and schema not in _PRIMITIVES:
                if schema not in names:
                    raise SchemaError(f"unknown named type {schema!r}")
                schema = names[schema]
            elif isinstance(schema, dict) and (
                not isinstance(schema["type"], str) or schema["type"] not in _PRIMITIVES | _COMPLEX
            ):
                schema = schema["type"]
            else:
                return schema

    def resolve(self, reader: Any, writer: Any, path: str) -> None:
        """Record every problem decoding ``writer`` data with ``reader`` at ``path``."""
        reader = self._deref(reader, self.reader_names)
        writer = self._deref(writer, self.writer_names)
        if _kind(writer) == "union":
            # Data may use any writer branch, so each one must be readable.
            for branch in writer:
                self.resolve(reader, branch, path)
            return
        if _kind(reader) == "union":
            branches = [self._deref(branch, self.reader_names) for branch in reader]
            match = next((b for b in branches if self._matches(b, writer, exact=True)), None)
            match = match or next((b for b in branches if self._matches(b, writer, exact=False)), None)
            if match is None:
                self.problems.append(
                    f"{path}: writer type {_describe(writer)} matches no branch of reader {_describe(reader)}"
                )
                return
            self.resolve(match, writer, path)
            return
        if not self._matches(reader, writer, exact=False):
            self.problems.append(f"{path}: writer type {_describe(writer)} cannot be read as {_describe(reader)}")
            return
        kind = _kind(reader)
        if kind in ("record", "error"):
            self._resolve_record(reader, writer, path)
        elif kind == "enum":
            self._resolve_enum(reader, writer, path)
        elif kind == "fixed" and reader["size"] != writer["size"]:
            self.problems.append(
                f"{path}: fixed {reader['name']} has size {reader['size']}, writer wrote {writer['size']}"
            )
        elif kind == "array":
            self.resolve(reader["items"], writer["items"], f"{path}[]")
        elif kind == "map":
            self.resolve(reader["values"], writer["values"], f"{path}{{}}")
        elif kind in _PRIMITIVES:
            self._check_logical(reader, writer, path)

    def _matches(self, reader: Any, writer: Any, *, exact: bool) -> bool:
        """Whether the two (dereferenced, non-union) schemas match at the top level."""
        reader_kind, writer_kind = _kind(reader), _kind(writer)
        if reader_kind == "union":
            return False
        if reader_kind in _PRIMITIVES or writer_kind in _PRIMITIVES:
            if reader_kind == writer_kind:
                return True
            return not exact and reader_kind in _PROMOTIONS.get(writer_kind, frozenset())
        if reader_kind != writer_kind and {reader_kind, writer_kind} != {"record", "error"}:
            return False
        if reader_kind in ("array", "map"):
            return True
        return self._names_match(reader, writer)

    @staticmethod
    def _names_match(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
        writer_name = str(writer["name"])
        if _short(str(reader["name"])) == _short(writer_name):
            return True
        aliases = [str(alias) for alias in reader.get("aliases", [])]
        return writer_name in aliases or _short(writer_name) in {_short(alias) for alias in aliases}

    def _resolve_record(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        key = (str(reader["name"]), str(writer["name"]))
        if key in self._visited:
            return
        self._visited.add(key)
        writer_fields = {str(field["name"]): field for field in writer["fields"]}
        for field in reader["fields"]:
            names = [str(field["name"]), *(str(alias) for alias in field.get("aliases", []))]
            source = next((writer_fields[name] for name in names if name in writer_fields), None)
            field_path = f"{path}.{field['name']}"
            if source is not None:
                self.resolve(field["type"], source["type"], field_path)
            elif "default" not in field:
                self.problems.append(
                    f"{field_path}: reader field has no default and the writer's {_short(str(writer['name']))} "
                    "has no such field"
                )

    def _resolve_enum(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        missing = [symbol for symbol in writer["symbols"] if symbol not in reader["symbols"]]
        if missing and "default" not in reader:
            self.problems.append(
                f"{path}: writer enum {writer['name']} has symbols {missing} that reader enum {reader['name']} "
                "lacks, and the reader enum has no default"
            )

    def _check_logical(self, reader: Any, writer: Any, path: str) -> None:
        if _logical(reader) != _logical(writer):
            self.problems.append(
                f"{path}: logical type changed: writer {_describe(writer)}, reader {_describe(reader)}"
            )


def _logical(schema: Any) -> tuple[Any, ...]:
    if not isinstance(schema, dict):
        return (None,) * len(_LOGICAL_KEYS)
    return tuple(schema.get(key) for key in _LOGICAL_KEYS)
