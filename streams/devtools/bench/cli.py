"""Options and entry points of the benchmark (``prismaflow bench``, ``python -m streams.devtools.bench``)."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streams.compose
from processors.errors import PrismaflowError
from streams.config import load_settings
from streams.devtools.bench.run import run_bench
from streams.kafka_clients import KafkaClients
from streams.run import run_stage
from streams.settings import KafkaSettings
from streams.worker import WorkerOptions

# --- options -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``prismaflow bench``."""
    parser.add_argument("--alerts", type=int, default=100_000, help="raw alerts of the throughput phase")
    parser.add_argument("--warmup-alerts", type=int, default=20_000,
                        help="raw alerts run through a throw-away pipeline first, so the broker's JVM is "
                             "compiled (JIT) before anything is measured; 0 to measure a cold broker")
    parser.add_argument("--rate", type=float, default=500.0, help="offered alerts/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the latency phase")
    parser.add_argument("--topology", choices=["fused", "split"], default="fused",
                        help="fused: one core stage raw -> scored (default); split: normalise and score stages")
    parser.add_argument("--core-workers", type=int, default=2, help="core processes (fused topology)")
    parser.add_argument("--normalise-workers", type=int, default=1, help="normalise processes (split topology)")
    parser.add_argument("--score-workers", type=int, default=1, help="score processes (split topology)")
    parser.add_argument("--max-batch", type=int, default=None, help="PRISMAFLOW_WORKER_MAX_BATCH for the workers")
    parser.add_argument("--poll-timeout-ms", type=int, default=None,
                        help="PRISMAFLOW_WORKER_POLL_TIMEOUT_MS for the workers")
    parser.add_argument("--seed", type=int, default=7, help="traffic seed")
    parser.add_argument("--no-passthrough", action="store_true", help="skip the transport-limit passthroughs")
    parser.add_argument("--no-faust", action="store_true", help="skip the faust-streaming passthrough")
    parser.add_argument("--profile-dir", type=Path, default=None,
                        help="run the workers under cProfile and write <stage>-<n>.prof here")
    parser.add_argument("--producer-override", action="append", default=[], metavar="KEY=VALUE",
                        help="what-if: extra librdkafka setting for the workers' (and the transactional "
                             "passthrough's) producer, e.g. retry.backoff.ms=5; repeatable")
    parser.add_argument("--consumer-override", action="append", default=[], metavar="KEY=VALUE",
                        help="what-if: extra librdkafka setting for the workers' consumer; repeatable")
    parser.add_argument("--debug-workers", action="store_true",
                        help="workers log at DEBUG (one line per batch) into <workdir>/<stage>-<n>.log")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the broker (when local) and process logs here instead of a temporary folder")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON too (default $PRISMAFLOW_HOME/bench/latest.json)")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` sub-command to the CLI's sub-parsers (handler in ``handler`` default)."""
    help_text = "benchmark the stream core on a real broker and print JSON figures"
    parser: argparse.ArgumentParser = subparsers.add_parser("bench", help=help_text, description=help_text)
    add_arguments(parser)
    parser.set_defaults(handler=run_bench)
    return parser


# --- the passthrough subprocess --------------------------------------------------------------------


def _passthrough_main(argv: Sequence[str]) -> int:
    """``python -m streams.devtools.bench passthrough``: copy messages bytes-untouched, print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m streams.devtools.bench passthrough")
    for option in ("--bootstrap", "--mode", "--source", "--dest", "--group", "--stops", "--compression"):
        parser.add_argument(option, required=True)
    parser.add_argument("--max-batch", type=int, default=2000)
    parser.add_argument("--producer-overrides", default="{}")
    args = parser.parse_args(argv)
    stops = {int(p): int(o) for p, o in json.loads(args.stops).items()}
    total = sum(stops.values())
    kafka = KafkaSettings(bootstrap_servers=args.bootstrap)
    transactional = args.mode == "transactional"
    # The worker's own client settings, so the two differ only in the work between consume and produce.
    overrides: dict[str, Any] = {"compression.type": args.compression}
    if transactional:
        overrides.update({"transactional.id": f"{args.group}-0", "linger.ms": 1, "transaction.timeout.ms": 15000,
                          "message.timeout.ms": 15000, **json.loads(args.producer_overrides)})
    clients = KafkaClients(kafka)
    producer = clients.producer(**overrides)
    if transactional:
        producer.init_transactions(30)
    consumer = clients.consumer(args.group, **{"enable.auto.commit": not transactional,
                                               "partition.assignment.strategy": "cooperative-sticky",
                                               "fetch.wait.max.ms": 10})
    consumer.subscribe([args.source])
    copied = 0
    first: float | None = None
    while copied < total:
        messages = consumer.consume(args.max_batch, 0.005)
        if not messages:
            continue
        if first is None:
            first = time.perf_counter()
        if transactional:
            producer.begin_transaction()
        for message in messages:
            offset, partition = message.offset(), message.partition()
            if message.error() is not None or offset is None or partition is None or offset >= stops.get(partition, 0):
                continue
            while True:
                try:
                    producer.produce(args.dest, key=message.key(), value=message.value())
                    break
                except BufferError:
                    producer.poll(0.01)
            copied += 1
        if transactional:
            positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
            producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
            producer.commit_transaction(30)
        else:
            producer.poll(0)
    producer.flush(60)
    assert first is not None
    elapsed = time.perf_counter() - first
    print(json.dumps({"messages": copied, "elapsed_s": round(elapsed, 3), "msgs_per_s": round(copied / elapsed, 1)}),
          flush=True)
    consumer.close()
    return 0


def _worker_main(argv: Sequence[str]) -> int:
    """``python -m streams.devtools.bench [-v] worker <stage> --overrides JSON``: ``prismaflow run <stage>`` with
    extra client settings patched into its :class:`~streams.worker.WorkerOptions` (what-if runs only)."""
    verbose = ["-v"] if argv[0] == "-v" else []
    rest = list(argv[len(verbose) + 1:])
    stage, overrides = rest[0], json.loads(rest[rest.index("--overrides") + 1])
    options: Any = functools.partial(
        WorkerOptions, producer_overrides=overrides["producer"], consumer_overrides=overrides["consumer"])
    streams.compose.WorkerOptions = options  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")  # as `prismaflow run` logs
    return run_stage(stage, load_settings())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.devtools.bench [options]`` (the same as ``prismaflow bench``), or the passthrough."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["passthrough"]:
        return _passthrough_main(argv[1:])
    if "worker" in argv[:2]:
        return _worker_main(argv)
    parser = argparse.ArgumentParser(prog="python -m streams.devtools.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except PrismaflowError as exc:
        print(f"prismaflow bench: error: {exc}", file=sys.stderr)
        return 2
    return run_bench(args, settings)

