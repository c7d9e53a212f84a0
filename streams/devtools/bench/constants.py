"""The goals and fixed knobs of the benchmark."""

from __future__ import annotations

GOALS = {"sustained_alerts_per_s": 10_000.0, "latency_p99_ms": 25.0, "ratio_to_transport_limit": 0.5}
"""The issue's goals on a 2-core machine with the broker on it."""

_POLL_S = 0.1  # how often group offsets are sampled in the throughput phase
_LATENCY_SEED_OFFSET = 10_000  # estates of the latency phase differ from the throughput phase's
_WARMUP_S = 2.0  # offered before the latency phase's clock starts (connections, caches, first batches)
