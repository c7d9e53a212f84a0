"""Which Schema Registry subject each record of each topic is registered under, and as what text.

Subjects follow Confluent's TopicNameStrategy: a topic's own record (:attr:`TopicSpec.value_schema`)
is registered under ``<topic>-value``, so ``kafka-avro-console-consumer``, Kafka Connect and ksqlDB
find it where they look by default. Keys are plain UTF-8 strings, never Avro, so there are no
``-key`` subjects. A topic that also carries another record type (the raw topic carries the core's
own :class:`~processors.records.AssetLink` messages) registers that one under
``<topic>-<full record name>`` (TopicRecordNameStrategy): under ``<topic>-value`` it would be a
second, incompatible record in one subject, refused by any compatibility level but NONE.

The producer (:class:`streams.serde.AvroSerde`) and ``prismaflow schemas`` both use
:func:`subject_for` and :func:`registry_schema_text`, so that what the command registers is exactly
what a producer with ``auto_register`` off looks up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from schemas import expand
from streams.topics import CATALOGUE, RAW_ALERTS, TopicSpec

__all__ = ["RECORD_NAMESPACE", "SECONDARY_RECORDS", "Subject", "catalogue_subjects", "registry_schema_text",
           "subject_for"]

RECORD_NAMESPACE: Final = "io.prismaflow"
"""The Avro namespace of every Prismaflow record (a test of the schemas checks it)."""

SECONDARY_RECORDS: Final[dict[str, tuple[str, ...]]] = {RAW_ALERTS.name: ("AssetLink",)}
"""Record types a catalogue topic carries besides its own value schema, by topic name."""


@dataclass(frozen=True)
class Subject:
    """One subject of the registry: its name, the topic it belongs to and the record registered."""

    name: str
    topic: str
    schema_name: str


def _spec_of(topic: str) -> TopicSpec | None:
    """The catalogue topic that ``topic`` is, with or without a deployment prefix."""
    matches = [spec for spec in CATALOGUE if topic == spec.name or topic.endswith("." + spec.name)]
    return max(matches, key=lambda spec: len(spec.name), default=None)


def subject_for(topic: str, schema_name: str) -> str:
    """The subject a ``schema_name`` record written to ``topic`` is registered under.

    ``<topic>-value`` for the topic's own record and for any topic outside the catalogue;
    ``<topic>-io.prismaflow.<Record>`` for another record type on a catalogue topic.
    """
    spec = _spec_of(topic)
    if spec is not None and schema_name != spec.value_schema:
        return f"{topic}-{RECORD_NAMESPACE}.{schema_name}"
    return f"{topic}-value"


def catalogue_subjects(prefix: str = "") -> list[Subject]:
    """Every subject Prismaflow's producers write to, for the catalogue under ``prefix``."""
    subjects: list[Subject] = []
    for spec in CATALOGUE:
        topic = prefix + spec.name
        for schema_name in (spec.value_schema, *SECONDARY_RECORDS.get(spec.name, ())):
            subjects.append(Subject(subject_for(topic, schema_name), topic, schema_name))
    return subjects


def registry_schema_text(schema: dict[str, Any]) -> str:
    """The schema as registered: self-contained (named types inlined), compact JSON."""
    return json.dumps(expand(schema))
