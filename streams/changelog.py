"""Reading one partition of a changelog topic back, to rebuild a stateful stage's state.

The changelog is compacted and written in the same transaction as the stage's outputs and offsets,
so reading its committed records (``read_committed``) from the beginning to the end gives exactly
the state that matches the committed input offsets.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from streams.errors import BrokerError
from streams.publish import watermarks
from streams.settings import KafkaSettings

__all__ = ["read_partition"]


def read_partition(kafka: KafkaSettings, topic: str, partition: int, *, timeout_s: float = 60.0) -> Iterator[tuple[bytes, bytes | None]]:
    """Yield (key, value) of every committed record of ``topic``/``partition``, oldest first."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({
        **kafka.client_config(),
        "group.id": f"prismaflow-restore-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    })
    try:
        low, high = watermarks(consumer, topic, partition, timeout_s)
        if high <= low:
            return
        consumer.assign([TopicPartition(topic, partition, low)])
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() > deadline:
                raise BrokerError(f"timed out restoring {topic}[{partition}]")
            messages = consumer.consume(5000, 0.2)
            for message in messages:
                if message.error() is not None:
                    continue
                yield message.key() or b"", message.value()
            position = consumer.position([TopicPartition(topic, partition)])[0].offset
            if position >= high:
                return
    finally:
        consumer.close()
