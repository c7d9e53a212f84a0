"""Dead letters: what a stage could not process goes to ``prisma.dlq`` with the reason, never into silence.

A dead letter keeps the original key and value byte for byte, so it can be inspected and replayed,
and carries the error both in the Avro :class:`DeadLetter` record and in headers named as Kafka
Connect names them (``__connect.errors.*``), so tools that know that convention can read ours.
Records that never were on a topic (a bad record in a webhook request) use the pseudo-topic
``webhook:<path>`` and offset -1 in the headers (0 in the record, whose schema needs a
non-negative number). The record itself is built by :func:`processors.dead_letters.build_dead_letter`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Unpack

from processors.dead_letters import ERROR_HEADER_PREFIX, Original, build_dead_letter
from streams.publish import OutgoingRecord
from streams.topics import DLQ

__all__ = ["dead_letter", "ERROR_HEADER_PREFIX"]

log = logging.getLogger(__name__)


def dead_letter(
    *,
    stage: str,
    error: BaseException | str,
    original_topic: str,
    dlq_topic: str = DLQ.name,
    now: datetime | None = None,
    **original: Unpack[Original],
) -> OutgoingRecord:
    """Build the DLQ record for a message that ``stage`` gave up on, ready to publish.

    The error message is cut to a few thousand characters; it must never contain secrets (our
    errors never carry credentials). Logged at WARNING with where it came from, never the payload.
    ``original`` are the keywords of :class:`processors.dead_letters.Original`.
    """
    letter = build_dead_letter(
        stage=stage, error=error, original_topic=original_topic, failed_at=now or datetime.now(UTC), **original)
    log.warning(
        "dead-lettered stage=%s topic=%s partition=%s offset=%s error=%s reason=%s",
        letter.record.stage, letter.record.original_topic,
        original.get("original_partition", -1), original.get("original_offset", -1),
        letter.record.error_class, letter.record.error_message[:200],
    )
    return OutgoingRecord(dlq_topic, letter.key, letter.record, letter.headers)
