"""Avro encoding and decoding of Prismaflow's pydantic records for Kafka.

:class:`AvroSerde` is built once at start-up and shared by a worker's producers and consumers.
The schema for a record is the ``.avsc`` of the same name as its model class (see :mod:`schemas`).
Two framings, chosen by :class:`SerdeSettings`:

- **Confluent** (a registry URL set): magic byte 0, 4-byte big-endian schema id, Avro body, through
  ``confluent_kafka.schema_registry``. The subject is the topic's ``<topic>-value``
  (TopicNameStrategy; :mod:`streams.subjects`). With ``auto_register`` off (the default outside the
  demo) the schema must already be registered (``prismaflow schemas register``); a producer whose
  schema is not raises :class:`~processors.errors.ConfigurationError`, never a dead letter.
- **Single-object** (no registry): the Avro specification's single-object encoding, marker
  ``C3 01``, the schema's 8-byte little-endian CRC-64-AVRO fingerprint, Avro body. Decoding
  looks the fingerprint up among the current *and* the baseline (last released) schemas, so data
  written by the previous release still decodes, resolved to the current schema.

Decoding recognises both framings by their first bytes, whatever the mode, so a topic can move
from one to the other; Confluent-framed data needs a registry to decode.

Record ↔ Avro datum (:mod:`streams.avro_datum`): ``model_dump(mode="python")``; enum members
travel as Avro enum symbols equal to the Python member *names* (always valid Avro symbols, whatever
the values); datetimes must be timezone-aware and travel as ``timestamp-millis`` (decoded as UTC;
sub-millisecond digits are lost).

Failures: a record or payload that cannot be converted raises
:class:`~processors.errors.SerializationError` (the message belongs on the dead-letter topic);
a model or schema name without a schema raises :class:`~processors.errors.SchemaError` (a bug);
a schema registry that cannot be reached or refuses our credentials raises
:class:`~processors.errors.ExternalServiceError` (retry, do not dead-letter).
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import fastavro
from confluent_kafka import KafkaException
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro.read import SchemaResolutionError
from pydantic import BaseModel, ConfigDict

from processors.errors import ConfigurationError, ExternalServiceError, SchemaError, SerializationError
from schemas import SCHEMA_NAMES, baseline_dir, fingerprint, load_schemas
from streams.avro_datum import model_from_avro, model_to_avro
from streams.settings import SchemaRegistrySettings
from streams.subjects import registry_schema_text, subject_for

__all__ = [
    "SINGLE_OBJECT_MARKER",
    "CONFLUENT_MAGIC",
    "SerdeSettings",
    "AvroSerde",
]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

SINGLE_OBJECT_MARKER = b"\xc3\x01"
"""The two bytes that open an Avro single-object encoded message."""
CONFLUENT_MAGIC = 0
"""The byte that opens a Confluent wire-format message."""

_SINGLE_OBJECT_HEADER = len(SINGLE_OBJECT_MARKER) + 8
# What fastavro raises on a datum that does not fit its schema, or bytes that do not fit theirs.
_AVRO_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    OverflowError,
    struct.error,
    SchemaResolutionError,
)


class SerdeSettings(BaseModel):
    """How records are framed on Kafka.

    ``registry.url`` switches on Confluent framing through that registry (``mock://...`` gives
    confluent-kafka's in-memory registry, for tests), with the registry section's TLS, auth and
    ``auto_register``; without it records use Avro single-object encoding and need no registry.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: SchemaRegistrySettings = SchemaRegistrySettings()
    schema_dir: Path | None = None
    """Folder of the current ``.avsc`` files; default: the ``schemas`` package."""
    baseline_schema_dir: Path | None = None
    """Folder of the last released ``.avsc`` files; default: ``schemas/baseline``."""


@dataclass(frozen=True)
class _Writer:
    name: str
    schema: dict[str, Any]


class AvroSerde:
    """Encodes pydantic records to Kafka message values and back, by their Avro schemas.

    Built once per process from :class:`SerdeSettings` (all schemas are loaded and parsed here)
    and, optionally, a schema registry client, which a test passes instead of a URL. Safe to
    share between threads. Raises :class:`SchemaError` at construction when a schema file is
    missing or invalid. Close it at shutdown (:meth:`close`, or ``with AvroSerde(...)``) when it
    built its own registry client.
    """

    def __init__(self, settings: SerdeSettings | None = None, *, registry: SchemaRegistryClient | None = None) -> None:
        self._settings = settings or SerdeSettings()
        self._schemas = load_schemas(self._settings.schema_dir)
        baseline = load_schemas(self._settings.baseline_schema_dir or baseline_dir())
        self._fingerprints = {name: fingerprint(schema) for name, schema in self._schemas.items()}
        # Baseline first so that a current schema wins when both have the same fingerprint.
        self._writers: dict[bytes, _Writer] = {fingerprint(s): _Writer(n, s) for n, s in baseline.items()}
        self._writers.update({fp: _Writer(name, self._schemas[name]) for name, fp in self._fingerprints.items()})
        # A client we built from the URL is ours to close; an injected one belongs to the caller.
        self._owns_registry = registry is None and self._settings.registry.url is not None
        self._registry = registry if registry is not None else self._registry_from(self._settings)
        self._serializers: dict[tuple[str, str], AvroSerializer] = {}
        self._deserializers: dict[tuple[str, str], AvroDeserializer] = {}
        logger.info(
            "serde ready mode=%s schemas=%d known_fingerprints=%d", self.mode, len(self._schemas), len(self._writers)
        )

    def close(self) -> None:
        """Close the schema registry client this serde built from its URL; safe to call twice.

        Call at shutdown (or use the serde as a context manager); an injected client is left open.
        """
        if self._owns_registry and self._registry is not None:
            self._registry.close()
            self._owns_registry = False

    def __enter__(self) -> AvroSerde:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _registry_from(settings: SerdeSettings) -> SchemaRegistryClient | None:
        if settings.registry.url is None:
            return None
        try:
            return SchemaRegistryClient.new_client(settings.registry.client_config())
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"invalid schema registry settings: {exc}") from exc

    @property
    def mode(self) -> Literal["confluent", "single-object"]:
        """The framing :meth:`encode` writes."""
        return "confluent" if self._registry is not None else "single-object"

    def schema_fingerprint(self, schema_name: str) -> bytes:
        """The 8-byte CRC-64-AVRO fingerprint that single-object encoding writes for ``schema_name``."""
        self._schema(schema_name)
        return self._fingerprints[schema_name]

    # --- encode ----------------------------------------------------------------------------------

    def encode(self, record: BaseModel, *, topic: str) -> bytes:
        """Encode ``record`` as a message value for ``topic``, by the schema named after its class.

        Raises :class:`SchemaError` when the class has no schema, :class:`SerializationError` when
        the record does not fit it (e.g. a naive datetime), :class:`ExternalServiceError` when the
        registry cannot be reached.
        """
        name = type(record).__name__
        schema = self._schema(name)
        if self._registry is None:
            datum = model_to_avro(record, name_union_branches=True)
            body = io.BytesIO()
            body.write(SINGLE_OBJECT_MARKER)
            body.write(self._fingerprints[name])
            try:
                fastavro.schemaless_writer(body, schema, datum)
            except _AVRO_ERRORS as exc:
                raise SerializationError(f"cannot encode {name} for topic {topic}: {exc}") from exc
            return body.getvalue()
        datum = model_to_avro(record)
        serializer = self._serializer(name, topic)
        try:
            encoded = self._call_registry(lambda: serializer(datum, _context(topic)), f"encode {name} for topic {topic}")
        except SerializationError as exc:
            if _not_found(exc) and not self._settings.registry.auto_register:
                raise ConfigurationError(
                    f"the {name} schema is not registered under subject {subject_for(topic, name)} of the schema "
                    "registry: run `prismaflow schemas register` (or set SCHEMA_REGISTRY_AUTO_REGISTER=true in "
                    "development)") from exc
            raise
        if not isinstance(encoded, bytes):
            raise SerializationError(f"schema registry serializer returned no bytes for {name} on topic {topic}")
        return encoded

    def serializer(self, model: type[M], topic: str) -> Callable[[M], bytes]:
        """A callable that encodes ``model`` records for ``topic``; checks the schema exists now."""
        self._schema(model.__name__)

        def serialize(record: M) -> bytes:
            if not isinstance(record, model):
                raise SerializationError(
                    f"serializer for {model.__name__} on topic {topic} got a {type(record).__name__}"
                )
            return self.encode(record, topic=topic)

        return serialize

    # --- decode ----------------------------------------------------------------------------------

    def decode(self, data: bytes, model: type[M], *, topic: str) -> M:
        """Decode a message value from ``topic`` into a ``model`` record.

        Data written with an older (baseline) schema is resolved to the current one. Raises
        :class:`SerializationError` on unknown framing, an unknown fingerprint or schema id, a
        payload of another record type, or bytes that do not decode.
        """
        datum = self.decode_dict(data, model.__name__, topic=topic)
        return model_from_avro(model, datum)

    def decode_dict(self, data: bytes, schema_name: str, *, topic: str) -> dict[str, Any]:
        """Decode a message value from ``topic`` into a dict shaped by the current ``schema_name``.

        Enum values are symbols and timestamps are UTC datetimes, as fastavro returns them.
        Raises as :meth:`decode` does.
        """
        reader = self._schema(schema_name)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SerializationError(f"cannot decode {type(data).__name__} from topic {topic}: expected bytes")
        data = bytes(data)
        if data[:2] == SINGLE_OBJECT_MARKER:
            return self._decode_single_object(data, schema_name, reader, topic)
        if data[:1] == bytes([CONFLUENT_MAGIC]):
            return self._decode_confluent(data, schema_name, topic)
        raise SerializationError(
            f"cannot decode {schema_name} from topic {topic}: unknown framing {data[:2].hex() or 'empty'}, "
            "expected Avro single-object (c301) or Confluent (00) framing"
        )

    def deserializer(self, model: type[M], topic: str) -> Callable[[bytes], M]:
        """A callable that decodes ``model`` records from ``topic``; checks the schema exists now."""
        self._schema(model.__name__)

        def deserialize(data: bytes) -> M:
            return self.decode(data, model, topic=topic)

        return deserialize

    def _decode_single_object(self, data: bytes, name: str, reader: dict[str, Any], topic: str) -> dict[str, Any]:
        if len(data) < _SINGLE_OBJECT_HEADER:
            raise SerializationError(
                f"cannot decode {name} from topic {topic}: {len(data)} bytes is shorter than the header"
            )
        fp = data[2:_SINGLE_OBJECT_HEADER]
        writer = self._writers.get(fp)
        if writer is None:
            raise SerializationError(
                f"cannot decode {name} from topic {topic}: unknown schema fingerprint {fp.hex()} "
                "(not a current or baseline Prismaflow schema)"
            )
        if writer.name != name:
            raise SerializationError(f"cannot decode {name} from topic {topic}: the message holds a {writer.name}")
        body = io.BytesIO(data)
        body.seek(_SINGLE_OBJECT_HEADER)
        try:
            datum = fastavro.schemaless_reader(body, writer.schema, None if writer.schema is reader else reader)
        except _AVRO_ERRORS as exc:
            raise SerializationError(f"cannot decode {name} from topic {topic}: {exc}") from exc
        if body.tell() != len(data):
            raise SerializationError(
                f"cannot decode {name} from topic {topic}: {len(data) - body.tell()} bytes left after the record"
            )
        if not isinstance(datum, dict):
            raise SerializationError(f"cannot decode {name} from topic {topic}: not a record")
        return datum

    def _decode_confluent(self, data: bytes, name: str, topic: str) -> dict[str, Any]:
        if self._registry is None:
            raise SerializationError(
                f"cannot decode {name} from topic {topic}: "
                "Confluent-framed data needs a schema registry, none is configured"
            )
        deserializer = self._deserializer(name, topic)
        datum = self._call_registry(lambda: deserializer(data, _context(topic)), f"decode {name} from topic {topic}")
        if not isinstance(datum, dict):
            raise SerializationError(f"cannot decode {name} from topic {topic}: not a record")
        return datum

    # --- registry --------------------------------------------------------------------------------

    def _serializer(self, name: str, topic: str) -> AvroSerializer:
        # One per (schema, topic): a serializer remembers the schema id of the subject it registered.
        key = (name, topic)
        if key not in self._serializers:
            conf = {
                "auto.register.schemas": self._settings.registry.auto_register,
                "subject.name.strategy": _fixed_subject(subject_for(topic, name)),
            }
            self._serializers[key] = AvroSerializer(self._registry, self._schema_json(name), conf=conf)
        return self._serializers[key]

    def _deserializer(self, name: str, topic: str) -> AvroDeserializer:
        key = (name, topic)
        if key not in self._deserializers:
            conf = {"subject.name.strategy": _fixed_subject(subject_for(topic, name))}
            self._deserializers[key] = AvroDeserializer(self._registry, self._schema_json(name), conf=conf)
        return self._deserializers[key]

    def _schema_json(self, name: str) -> str:
        return registry_schema_text(self._schemas[name])

    @staticmethod
    def _call_registry(call: Callable[[], Any], what: str) -> Any:
        """Run a confluent serializer call, translating its errors to ours."""
        try:
            return call()
        except SerializationError:
            raise
        except SchemaRegistryError as exc:
            if exc.http_status_code in (401, 403) or exc.http_status_code >= 500:
                raise ExternalServiceError(f"schema registry failed to {what}: {exc}") from exc
            raise SerializationError(f"schema registry refused to {what}: {exc}") from exc
        except (*_AVRO_ERRORS, KafkaException) as exc:
            raise SerializationError(f"cannot {what}: {exc}") from exc
        except Exception as exc:
            # Transport errors of the registry's HTTP client (connection refused, TLS, timeouts).
            raise ExternalServiceError(f"schema registry unreachable, cannot {what}: {exc!r}") from exc

    def _schema(self, name: str) -> dict[str, Any]:
        try:
            return self._schemas[name]
        except KeyError:
            raise SchemaError(f"no Avro schema named {name!r}; known: {', '.join(SCHEMA_NAMES)}") from None


def _context(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def _fixed_subject(subject: str) -> Callable[[SerializationContext | None, str | None], str]:
    """A confluent subject name strategy that always answers ``subject`` (one serializer per subject)."""

    def strategy(ctx: SerializationContext | None, record_name: str | None) -> str:
        return subject

    return strategy


def _not_found(error: SerializationError) -> bool:
    """Whether the registry answered 404: the subject or the schema under it is not registered."""
    cause = error.__cause__
    return isinstance(cause, SchemaRegistryError) and cause.http_status_code == 404
