"""One benchmark run from start to JSON report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from connectors.prisma.simulator.traffic import TrafficMix
from processors.pipeline import raw_alert_key
from streams.devtools.bench.constants import GOALS
from streams.devtools.bench.phases import _latency, _overrides, _passthrough, _throughput
from streams.devtools.bench.processes import _broker, _Peaks, _progress, _Run, _workdir
from streams.devtools.bench.traffic import _count_committed, _generate, _load, bench_clients
from streams.operator.progress import progress_bar
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.serde import AvroSerde
from streams.settings import default_home
from streams.topics import ALERTS, CATALOGUE, DLQ, RAW_ALERTS, SCORED_ALERTS, create_topics

# --- the run -------------------------------------------------------------------------------------


def _cpu_pressure() -> str | None:
    """The kernel's CPU pressure line (``some avg10=...``): other load on the machine skews every figure."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None


def _machine(kafka_version: str) -> dict[str, Any]:
    import confluent_kafka

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        faust_version = version("faust-streaming")
    except Exception:  # noqa: BLE001
        faust_version = None
    return {"cpus": os.cpu_count(), "cpu_model": model, "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "cpu_pressure_at_end": _cpu_pressure(), "platform": platform.platform(),
            "python": platform.python_version(), "kafka": kafka_version,
            "confluent_kafka": confluent_kafka.version()[0], "librdkafka": confluent_kafka.libversion()[0],
            "faust_streaming": faust_version}


def run_bench(args: argparse.Namespace, settings: PrismaflowSettings) -> int:
    """Run every phase, print the JSON document, write it to the output file; 0 unless it broke.

    ``settings``: the tree the workers start from (their defaults, and ``KAFKA_BOOTSTRAP_SERVERS`` for
    an external broker); the workers themselves are ``prismaflow run`` processes, built by
    :mod:`streams.compose` like any other."""
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    if load_at_start[0] > 1.0:
        _progress(f"warning: load average {load_at_start[0]} before the run: other work shares these CPUs")
    bench_id = uuid.uuid4().hex[:8]
    prefix = f"bench-{bench_id}."
    began = time.monotonic()
    phases = 2 + (args.warmup_alerts > 0) + (0 if args.no_passthrough else 2 + (0 if args.no_faust else 2))
    with _workdir(args.workdir) as workdir, _broker(workdir, settings.kafka) as (bootstrap, pid, kv), \
            progress_bar("bench phases", total=phases) as phase_done:
        run = _Run(bootstrap, prefix, workdir, _Peaks(), pid, kv)
        passthrough_topics = tuple(replace(ALERTS, name=f"bench.passthrough.{m}") for m in ("plain", "transactional"))
        # aiokafka (under faust) reads no zstd without an extra codec package: faust gets its own
        # uncompressed copy of the raw messages, and a plain passthrough on that copy for comparison.
        faust_topics = tuple(replace(ALERTS, name=f"bench.uncompressed.{n}", compression="producer")
                             for n in ("source", "faust", "plain"))
        create_topics(bench_clients(bootstrap).admin(),
                      CATALOGUE + passthrough_topics + faust_topics, prefix=prefix)
        try:
            _progress(f"generating {args.alerts} raw alerts (seed {args.seed})")
            serde = AvroSerde()
            raw_topic = prefix + RAW_ALERTS.name
            # Keyed as the sources key them: by canonical asset id.
            values = [(raw_alert_key(r).encode(), serde.encode(r, topic=raw_topic))
                      for r in _generate(args.alerts, args.seed)]
            if args.warmup_alerts > 0:
                _warm_up(run, args, values[:args.warmup_alerts])
                phase_done(1)
            mean_bytes = sum(len(v) for _, v in values) / max(1, len(values))
            throughput, workers, raw_ends = _throughput(run, args, values)
            phase_done(1)
            _progress(f"throughput: {throughput['sustained_alerts_per_s']} alerts/s; measuring latency")
            latency = _latency(run, args, workers)
            phase_done(1)
            for child in workers:
                child.stop(run.peaks)
            outputs = {"alerts": _count_committed(bootstrap, prefix + ALERTS.name),
                       "scored": _count_committed(bootstrap, prefix + SCORED_ALERTS.name),
                       "dead_letters": _count_committed(bootstrap, prefix + DLQ.name)}
            transport: dict[str, Any] = {}
            if not args.no_passthrough:
                max_batch = args.max_batch or settings.worker.max_batch
                for mode, spec in zip(("plain", "transactional"), passthrough_topics):
                    _progress(f"transport limit: {mode} passthrough of {args.alerts} messages")
                    transport[mode] = _passthrough(
                        run, mode, raw_topic, prefix + spec.name, raw_ends, "zstd", max_batch,
                        _overrides(args.producer_override) if mode == "transactional" else None)
                    phase_done(1)
                if not args.no_faust:
                    source, faust_dest, plain_dest = (prefix + t.name for t in faust_topics)
                    ends = _load(bootstrap, source, values, compression="none")
                    _progress("transport limit: plain passthrough on uncompressed topics")
                    transport["plain_uncompressed"] = _passthrough(run, "plain", source, plain_dest, ends, "none",
                                                                   max_batch)
                    phase_done(1)
                    _progress("transport limit: faust-streaming passthrough on uncompressed topics")
                    transport["faust_uncompressed"] = _passthrough(run, "faust", source, faust_dest, ends, "none",
                                                                   max_batch)
                    phase_done(1)
            run.sample_all()
        finally:
            for child in run.children:
                child.stop(run.peaks)
    report = _report(args, run, settings.worker, throughput, latency, transport, outputs, mean_bytes,
                     time.monotonic() - began)
    report["machine"]["load_average_at_start"] = load_at_start
    text = json.dumps(report, indent=2)
    print(text)
    output = args.output or default_home() / "bench" / "latest.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n")
    _progress(f"written to {output}")
    return 0


def _warm_up(run: _Run, args: argparse.Namespace, values: Sequence[tuple[bytes, bytes]]) -> None:
    """Run the pipeline once over ``values`` on throw-away topics and discard the figures.

    A freshly started broker spends much of its CPU compiling (JIT) during its first minute
    (measured: the JVM used about 1.3 of the 2 cores at 500 alerts/s while cold, and the same run
    against a warmed broker sustained about 40 % more alerts/s): without a warm-up the benchmark
    would measure the JVM's start-up rather than the pipeline, and the passthroughs, which run
    last, would meet a warmer broker than the pipeline did.
    """
    warm = replace(run, prefix=run.prefix + "warmup.", peaks=_Peaks(), children=[])
    _progress(f"warm-up: {len(values)} raw alerts through a throw-away pipeline (not measured)")
    create_topics(bench_clients(run.bootstrap).admin(), CATALOGUE, prefix=warm.prefix)
    try:
        _throughput(warm, args, values)
    finally:
        for child in warm.children:
            child.stop(warm.peaks)


def _report(args: argparse.Namespace, run: _Run, settings: WorkerSettings, throughput: dict[str, Any],
            latency: dict[str, Any], transport: dict[str, Any], outputs: dict[str, int], mean_bytes: float,
            wall_s: float) -> dict[str, Any]:
    sustained = throughput["sustained_alerts_per_s"]
    plain = transport.get("plain", {}).get("msgs_per_s")
    transactional = transport.get("transactional", {}).get("msgs_per_s")
    ratio = round(sustained / plain, 3) if plain else None
    met = {
        "sustained_alerts_per_s": sustained >= GOALS["sustained_alerts_per_s"],
        "latency_p99_ms": latency["p99"] is not None and latency["p99"] <= GOALS["latency_p99_ms"],
        "ratio_to_transport_limit": ratio is not None and ratio >= GOALS["ratio_to_transport_limit"],
    }
    return {
        "machine": _machine(run.kafka_version),
        "config": {"alerts": args.alerts, "mix": asdict(TrafficMix()), "seed": args.seed,
                   "mean_raw_bytes": round(mean_bytes), "topology": args.topology,
                   **({"core_workers": args.core_workers} if args.topology == "fused" else
                      {"normalise_workers": args.normalise_workers, "score_workers": args.score_workers}),
                   "max_batch": args.max_batch or settings.max_batch,
                   "poll_timeout_ms": args.poll_timeout_ms if args.poll_timeout_ms is not None
                   else settings.poll_timeout_ms,
                   "warmup_alerts": args.warmup_alerts,
                   "profiled": args.profile_dir is not None,
                   "producer_overrides": _overrides(args.producer_override),
                   "consumer_overrides": _overrides(args.consumer_override)},
        "sustained_alerts_per_s": sustained,
        "throughput": throughput,
        "outputs": outputs,
        "latency_ms": latency,
        "transport_limit_msgs_per_s": {name: value.get("msgs_per_s") for name, value in transport.items()},
        "ratio_to_transport_limit": {"plain": ratio,
                                     "transactional": round(sustained / transactional, 3) if transactional else None},
        "peak_rss_mb": dict(sorted(run.peaks.mb.items())),
        "goals": GOALS,
        "goals_met": met,
        "wall_s": round(wall_s, 1),
    }


