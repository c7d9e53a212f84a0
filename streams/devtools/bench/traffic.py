"""Loading raw alerts into the broker and following consumer-group offsets."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from connectors.prisma.simulator.traffic import raw_alert_stream
from streams.errors import BrokerError
from streams.publish import producer_config
from streams.settings import KafkaSettings

# --- traffic -------------------------------------------------------------------------------------


def _generate(n: int, seed: int) -> list[Any]:
    return list(raw_alert_stream(n, seed=seed))


def _load(bootstrap: str, topic: str, values: Sequence[tuple[bytes, bytes]], compression: str = "zstd") -> dict[int, int]:
    """Produce ``(key, value)`` pairs as a source would; return the end offset of each partition."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    producer = Producer(producer_config(KafkaSettings(bootstrap_servers=bootstrap),
                                        **{"compression.type": compression, "linger.ms": 20}))
    for key, value in values:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(60) != 0:
        raise BrokerError(f"could not load {len(values)} records into {topic}")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-probe-{uuid.uuid4().hex}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def _count_committed(bootstrap: str, topic: str) -> int:
    """Committed records in ``topic`` (read_committed, every partition to its end)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-count-{uuid.uuid4().hex}",
                         "isolation.level": "read_committed", "enable.partition.eof": True,
                         "enable.auto.commit": False})
    try:
        partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        done: set[int] = set()
        count = 0
        deadline = time.monotonic() + 60
        while len(done) < len(partitions) and time.monotonic() < deadline:
            for message in consumer.consume(5000, 0.5):
                error = message.error()
                if error is None:
                    count += 1
                elif error.code() == KafkaError._PARTITION_EOF:
                    partition = message.partition()
                    if partition is not None:
                        done.add(partition)
        return count
    finally:
        consumer.close()


