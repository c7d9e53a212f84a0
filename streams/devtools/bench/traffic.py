"""Loading raw alerts into the broker and following consumer-group offsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.prisma.simulator.traffic import raw_alert_stream
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.settings import KafkaSettings
from streams.topic_reader import end_offsets, read_to_end


def bench_clients(bootstrap: str) -> KafkaClients:
    """The client factory of the bench's own clients, for the broker at ``bootstrap``."""
    return KafkaClients(KafkaSettings(bootstrap_servers=bootstrap))


# --- traffic -------------------------------------------------------------------------------------


def _generate(n: int, seed: int) -> list[Any]:
    return list(raw_alert_stream(n, seed=seed))


def _load(bootstrap: str, topic: str, values: Sequence[tuple[bytes, bytes]], compression: str = "zstd") -> dict[int, int]:
    """Produce ``(key, value)`` pairs as a source would; return the end offset of each partition."""
    clients = bench_clients(bootstrap)
    producer = clients.producer(**{"compression.type": compression, "linger.ms": 20})
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
    consumer = clients.reader("bench-probe")
    try:
        return end_offsets(consumer, topic, timeout_s=10)
    finally:
        consumer.close()


def _count_committed(bootstrap: str, topic: str) -> int:
    """Committed records in ``topic`` (read_committed, every partition to its end)."""
    return sum(1 for _ in read_to_end(bench_clients(bootstrap), topic, purpose="bench-count"))
