"""Prometheus metrics of every Prismaflow worker, and the HTTP endpoint that serves them.

Names follow Prometheus conventions: ``prismaflow_`` prefix, base units, ``_total`` on counters,
labels of low cardinality (stage, source, outcome, partition) and never an alert id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

__all__ = [
    "RECORDS_IN", "RECORDS_OUT", "DEAD_LETTERS", "PROCESS_SECONDS", "BATCH_SECONDS",
    "END_TO_END_SECONDS", "REKEYED", "TRANSACTIONS_ABORTED", "STATE_ENTRIES", "CONSUMER_LAG", "serve_metrics",
]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

RECORDS_IN = Counter("prismaflow_stage_records_in_total", "Records a stage consumed", ["stage"])
RECORDS_OUT = Counter(
    "prismaflow_stage_records_out_total",
    "Records a stage finished, by outcome (passed, filtered, dead_letter)", ["stage", "outcome"])
DEAD_LETTERS = Counter("prismaflow_dead_letters_total", "Records sent to the dead-letter topic", ["stage"])
PROCESS_SECONDS = Histogram(
    "prismaflow_stage_process_seconds", "Time to process one record", ["stage"], buckets=_LATENCY_BUCKETS)
BATCH_SECONDS = Histogram(
    "prismaflow_stage_batch_seconds", "Time to process and commit one batch", ["stage"], buckets=_LATENCY_BUCKETS)
END_TO_END_SECONDS = Histogram(
    "prismaflow_end_to_end_seconds", "From ingestion of the raw alert to this stage's output",
    ["stage"], buckets=_LATENCY_BUCKETS)
REKEYED = Counter(
    "prismaflow_stage_records_rekeyed_total",
    "Raw records not keyed by their asset id, sent back to the raw topic under it (fused stage)", ["stage"])
TRANSACTIONS_ABORTED = Counter(
    "prismaflow_stage_transactions_aborted_total",
    "Batches whose transaction was aborted (broker outage, rebalance, stuck call) and processed again",
    ["stage"])
STATE_ENTRIES = Gauge("prismaflow_stage_state_entries", "Entries in a stateful stage's local state", ["stage"])
CONSUMER_LAG = Gauge("prismaflow_consumer_lag_records", "Records behind the partition's end", ["stage", "partition"])

# The fused core's asset graph (streams/core_stage.py).
LINKS = Counter(
    "prismaflow_core_links_total",
    "Asset-graph messages the fused core sent itself, by kind (alias, edge, member)", ["stage", "kind"])


def serve_metrics(port: int, addr: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` on ``addr:port`` from a daemon thread (port 0 disables)."""
    if port:
        start_http_server(port, addr=addr)
