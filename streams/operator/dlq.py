"""``prismaflow dlq list|show``: the dead letters on the DLQ topic, readable without other tools.

A dead letter is named by where it sits on the DLQ topic, ``<partition>-<offset>`` (``0-42``): stable
for as long as the record is retained, and what ``show`` and ``redrive`` take. ``list`` prints one line
per dead letter (id, time, stage, reason, source topic/partition/offset); ``show`` prints one in full
with its original payload decoded when it decodes (Avro by the source topic's schema, else JSON, else
its size), every value passed through :mod:`processors.redaction` first: alert content may hold
live credentials, and the DLQ keeps the original bytes unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from processors.redaction import redact_data, redact_text
from processors.records import DeadLetter
from streams.kafka_clients import KafkaClients
from streams.serde import AvroSerde
from streams.topic_reader import read_to_end
from streams.topics import CATALOGUE, TopicSpec

__all__ = ["StoredDeadLetter", "read_dead_letters", "select", "render_list", "render_one", "source_spec"]


@dataclass(frozen=True)
class StoredDeadLetter:
    """A dead letter as it sits on the DLQ topic: its id (``partition-offset``) and its record."""

    dlq_topic: str
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def id(self) -> str:
        return f"{self.partition}-{self.offset}"

    @property
    def reason(self) -> str:
        return f"{self.letter.error_class}: {self.letter.error_message}"


def read_dead_letters(clients: KafkaClients, serde: AvroSerde, dlq_topic: str) -> list[StoredDeadLetter]:
    """Every committed dead letter of ``dlq_topic``, oldest first per partition."""
    return [StoredDeadLetter(dlq_topic, int(m.partition()), int(m.offset()),
                             serde.decode(m.value() or b"", DeadLetter, topic=dlq_topic))
            for m in read_to_end(clients, dlq_topic, purpose="dlq")]


def select(letters: Iterable[StoredDeadLetter], *, ids: Sequence[str] = (), reason: str | None = None,
           source: str | None = None) -> Iterator[StoredDeadLetter]:
    """The dead letters matching every given filter: one of ``ids``, ``reason`` as a case-insensitive
    part of the error class or message, ``source`` as the exact original topic."""
    wanted = set(ids)
    for stored in letters:
        if wanted and stored.id not in wanted:
            continue
        if reason is not None and reason.lower() not in stored.reason.lower():
            continue
        if source is not None and stored.letter.original_topic != source:
            continue
        yield stored


def source_spec(original_topic: str, prefix: str) -> TopicSpec | None:
    """The catalogue entry of a dead letter's source topic (under ``prefix``), None for a pseudo-topic
    (``webhook:/path``) or a topic outside the catalogue."""
    for spec in CATALOGUE:
        if original_topic == prefix + spec.name:
            return spec
    return None


def render_list(letters: Sequence[StoredDeadLetter], *, as_json: bool = False) -> str:
    """One line per dead letter (or a JSON list): id, time, stage, source, reason (cut to 120 chars)."""
    if as_json:
        return json.dumps([_summary(s) for s in letters], indent=2) + "\n"
    if not letters:
        return "no dead letters\n"
    lines = [f"{'ID':10}  {'FAILED_AT':25}  {'STAGE':14}  {'SOURCE':40}  REASON"]
    for s in letters:
        d = s.letter
        source = f"{d.original_topic}[{d.original_partition}]@{d.original_offset}"
        lines.append(f"{s.id:10}  {d.failed_at.isoformat(timespec='seconds'):25}  {d.stage:14}  {source:40}  "
                     f"{_one_line(redact_text(s.reason))[:120]}")
    return "\n".join(lines) + "\n"


def _summary(s: StoredDeadLetter) -> dict[str, Any]:
    d = s.letter
    return {"id": s.id, "dlq_topic": s.dlq_topic, "failed_at": d.failed_at.isoformat(), "stage": d.stage,
            "source_topic": d.original_topic, "source_partition": d.original_partition,
            "source_offset": d.original_offset, "error_class": d.error_class,
            "error_message": redact_text(d.error_message), "attempts": d.attempts}


def render_one(stored: StoredDeadLetter, serde: AvroSerde, prefix: str) -> str:
    """One dead letter in full, as JSON: the summary, the original key and headers, and the payload
    decoded where possible; secrets redacted throughout."""
    d = stored.letter
    document = _summary(stored)
    document["original_key"] = redact_text(d.original_key.decode("utf-8", "replace")) if d.original_key else None
    document["original_headers"] = {name: redact_text(value.decode("utf-8", "replace"))
                                    for name, value in d.headers.items()}
    document["payload"] = redact_data(decode_payload(d, serde, prefix))
    return json.dumps(document, indent=2, default=str) + "\n"


def decode_payload(letter: DeadLetter, serde: AvroSerde, prefix: str) -> Any:
    """The original value: Avro by its source topic's schema, else JSON, else a note of its size."""
    value = letter.original_value
    if value is None:
        return None
    spec = source_spec(letter.original_topic, prefix)
    if spec is not None:
        try:
            return serde.decode_dict(value, spec.value_schema, topic=letter.original_topic)
        except Exception:  # noqa: BLE001 - not Avro of that schema (why it was dead-lettered, maybe): try JSON
            pass
    try:
        return json.loads(value)
    except ValueError:
        return f"<{len(value)} bytes, neither {spec.value_schema if spec else 'Avro'} nor JSON>"


def _one_line(text: str) -> str:
    return " ".join(text.split())
