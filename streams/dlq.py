"""Dead letters: what a stage could not process goes to ``prisma.dlq`` with the reason, never into silence.

A dead letter keeps the original key and value byte for byte, so it can be inspected and replayed,
and carries the error both in the Avro :class:`DeadLetter` record and in headers named as Kafka
Connect names them (``__connect.errors.*``), so tools that know that convention can read ours.
Records that never were on a topic (a bad record in a webhook request) use the pseudo-topic
``webhook:<path>`` and offset -1 in the headers (0 in the record, whose schema needs a
non-negative number).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from processors.records import DeadLetter
from streams.publish import OutgoingRecord
from streams.topics import DLQ

__all__ = ["dead_letter", "ERROR_HEADER_PREFIX"]

log = logging.getLogger(__name__)

ERROR_HEADER_PREFIX = "__connect.errors."
_MAX_MESSAGE = 4000


def dead_letter(
    *,
    stage: str,
    error: BaseException | str,
    original_topic: str,
    original_partition: int = -1,
    original_offset: int = -1,
    original_key: bytes | None = None,
    original_value: bytes | None = None,
    original_headers: Mapping[str, bytes] | None = None,
    attempts: int = 1,
    dlq_topic: str = DLQ.name,
    now: datetime | None = None,
) -> OutgoingRecord:
    """Build the DLQ record for a message that ``stage`` gave up on, ready to publish.

    The error message is cut to a few thousand characters; it must never contain secrets (our
    errors never carry credentials). Logged at WARNING with where it came from, never the payload.
    """
    error_class = type(error).__name__ if isinstance(error, BaseException) else "InvalidRecordError"
    message = str(error)
    response = getattr(error, "body_excerpt", "")
    if response and response not in message:  # an outside system's answer: keep it for the operator
        message = f"{message}; response: {response}"
    message = _encodable(message)[:_MAX_MESSAGE]
    record = DeadLetter(
        original_topic=original_topic,
        original_partition=max(original_partition, 0),
        original_offset=max(original_offset, 0),
        original_key=original_key,
        original_value=original_value,
        stage=stage,
        error_class=error_class,
        error_message=message,
        failed_at=now or datetime.now(UTC),
        attempts=attempts,
        headers={_encodable(k): v for k, v in (original_headers or {}).items()},
    )
    headers = {
        f"{ERROR_HEADER_PREFIX}topic": original_topic.encode(),
        f"{ERROR_HEADER_PREFIX}partition": str(original_partition).encode(),
        f"{ERROR_HEADER_PREFIX}offset": str(original_offset).encode(),
        f"{ERROR_HEADER_PREFIX}stage": stage.encode(),
        f"{ERROR_HEADER_PREFIX}exception.class.name": error_class.encode(),
        f"{ERROR_HEADER_PREFIX}exception.message": message[:500].encode(),
    }
    log.warning(
        "dead-lettered stage=%s topic=%s partition=%s offset=%s error=%s reason=%s",
        stage, original_topic, original_partition, original_offset, error_class, message[:200],
    )
    key = original_key.decode("utf-8", "replace") if original_key is not None else None
    return OutgoingRecord(dlq_topic, key, record, headers)


def _encodable(text: str) -> str:
    """``text`` with anything UTF-8 cannot carry (lone surrogates) written as a backslash escape: an
    error message quoting the bad input must not fail to encode in its turn."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
