"""Building a dead letter: the record and its Kafka Connect headers, for any layer that needs one.

:func:`build_dead_letter` is the pure half of :func:`streams.dlq.dead_letter` (which adds the topic
and the log line): the sources in ``connectors/`` build their dead letters with it without
importing the Kafka layer. Every text of the letter (error message, stage, topic, header names)
has lone surrogates written as backslash escapes (``\\udcff``), so a dead letter always encodes,
whatever bad input the error quotes, and the operator still sees which code point it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, Unpack

from processors.records import DeadLetter

__all__ = [
    "ERROR_HEADER_PREFIX", "MAX_ERROR_MESSAGE_CHARS", "BuiltDeadLetter", "Original", "build_dead_letter", "excerpt",
]

ERROR_HEADER_PREFIX = "__connect.errors."
MAX_ERROR_MESSAGE_CHARS = 4000


@dataclass(frozen=True)
class BuiltDeadLetter:
    """A dead letter ready to be written to the DLQ topic under ``key`` with ``headers``."""

    key: str | None
    record: DeadLetter
    headers: dict[str, bytes]


def excerpt(data: bytes, limit: int) -> tuple[bytes, str]:
    """The first ``limit`` bytes of ``data``, and a note to add to the error when it was cut."""
    if len(data) <= limit:
        return data, ""
    return data[:limit], f" (original value cut to its first {limit} of {len(data)} bytes)"


class Original(TypedDict, total=False):
    """Where the failed message sat and what it held, as far as known (the keywords of a dead letter).

    Unset: partition and offset -1 (never on a topic), no key, value or headers, one attempt.
    """

    original_partition: int
    original_offset: int
    original_key: bytes | None
    original_value: bytes | None
    original_headers: Mapping[str, bytes] | None
    attempts: int


def build_dead_letter(
    *, stage: str, error: BaseException | str, original_topic: str, failed_at: datetime, **original: Unpack[Original],
) -> BuiltDeadLetter:
    """The DeadLetter record and ``__connect.errors.*`` headers for a message ``stage`` gave up on.

    The error message is cut to :data:`MAX_ERROR_MESSAGE_CHARS`; it must never contain secrets (our
    errors never carry credentials). A partition or offset of -1 (a record that never was on a
    topic) is 0 in the record, whose schema needs a non-negative number, and -1 in the headers.
    """
    original_partition = original.get("original_partition", -1)
    original_offset = original.get("original_offset", -1)
    original_key = original.get("original_key")
    error_class = type(error).__name__ if isinstance(error, BaseException) else "InvalidRecordError"
    message = str(error)
    response = getattr(error, "body_excerpt", "")
    if response and response not in message:  # an outside system's answer: keep it for the operator
        message = f"{message}; response: {response}"
    message = _encodable(message)[:MAX_ERROR_MESSAGE_CHARS]
    stage, original_topic = _encodable(stage), _encodable(original_topic)
    record = DeadLetter(
        original_topic=original_topic,
        original_partition=max(original_partition, 0),
        original_offset=max(original_offset, 0),
        original_key=original_key,
        original_value=original.get("original_value"),
        stage=stage,
        error_class=error_class,
        error_message=message,
        failed_at=failed_at,
        attempts=original.get("attempts", 1),
        headers={_encodable(name): value for name, value in (original.get("original_headers") or {}).items()},
    )
    headers = {
        f"{ERROR_HEADER_PREFIX}topic": original_topic.encode(),
        f"{ERROR_HEADER_PREFIX}partition": str(original_partition).encode(),
        f"{ERROR_HEADER_PREFIX}offset": str(original_offset).encode(),
        f"{ERROR_HEADER_PREFIX}stage": stage.encode(),
        f"{ERROR_HEADER_PREFIX}exception.class.name": error_class.encode(),
        f"{ERROR_HEADER_PREFIX}exception.message": message[:500].encode(),
    }
    key = original_key.decode("utf-8", "replace") if original_key is not None else None
    return BuiltDeadLetter(key, record, headers)


def _encodable(text: str) -> str:
    """``text`` with anything UTF-8 cannot carry (lone surrogates) written as a backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
