"""The three measured phases: throughput, latency at a fixed offered rate, transport limit."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import TopicPartition

from processors.pipeline import raw_alert_key
from streams.devtools.bench.constants import _LATENCY_SEED_OFFSET, _POLL_S, _WARMUP_S
from streams.devtools.bench.group_offsets import GroupOffsets
from streams.devtools.bench.processes import _Child, _progress, _Run
from streams.devtools.bench.traffic import _generate, _load, bench_clients
from streams.errors import BrokerError
from streams.serde import AvroSerde
from streams.topics import ALERTS, RAW_ALERTS, SCORED_ALERTS

# --- the throughput phase ------------------------------------------------------------------------


def _wait_assigned(bootstrap: str, group: str, partitions: int, timeout_s: float, children: Sequence[_Child]) -> None:
    """Block until every one of ``children`` is a member of the group holding some of its
    ``partitions``, and together they hold them all (no rebalance left to happen mid-measurement)."""
    admin = bench_clients(bootstrap).admin()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            child.check_alive()
        try:
            description = admin.describe_consumer_groups([group], request_timeout=5)[group].result()
            holdings = [len(m.assignment.topic_partitions) for m in description.members if m.assignment]
            members = min(len(children), partitions)
            if sum(holdings) >= partitions and sum(1 for held in holdings if held) >= members:
                return
        except Exception:  # noqa: BLE001, S110 - the group may not exist yet: ask again
            pass
        time.sleep(0.2)
    raise BrokerError(f"group {group} did not get its {partitions} partitions within {timeout_s:.0f}s")


def _overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["key=value", ...]`` as a dict; librdkafka takes every value as a string."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"prismaflow bench: override {pair!r} is not KEY=VALUE")
        result[key.strip()] = value.strip()
    return result


def _worker_env(run: _Run, args: argparse.Namespace, instance: str) -> dict[str, str]:
    env = {"PRISMAFLOW_WORKER_TOPIC_PREFIX": run.prefix, "PRISMAFLOW_WORKER_GROUP_PREFIX": run.prefix + "g",
           "PRISMAFLOW_WORKER_INSTANCE_ID": instance}
    if args.max_batch is not None:
        env["PRISMAFLOW_WORKER_MAX_BATCH"] = str(args.max_batch)
    if args.poll_timeout_ms is not None:
        env["PRISMAFLOW_WORKER_POLL_TIMEOUT_MS"] = str(args.poll_timeout_ms)
    return env


def _start_workers(run: _Run, args: argparse.Namespace, stage: str, count: int) -> list[_Child]:
    children = []
    for n in range(count):
        name = f"{stage}-{n}"
        argv = [sys.executable]
        if args.profile_dir is not None:
            args.profile_dir.mkdir(parents=True, exist_ok=True)
            argv += ["-m", "cProfile", "-o", str(args.profile_dir.resolve() / f"{name}.prof")]
        if args.producer_override or args.consumer_override:
            # The bench's own entry patches the overrides into the worker's options, then runs it.
            argv += ["-m", "streams.devtools.bench", "worker", stage, "--overrides",
                     json.dumps({"producer": _overrides(args.producer_override),
                                 "consumer": _overrides(args.consumer_override)})]
        else:
            argv += ["-m", "streams.cli", "run", stage]
        if args.debug_workers:
            argv.insert(argv.index("run" if "run" in argv else "worker"), "-v")
        children.append(run.spawn(name, argv, _worker_env(run, args, str(n))))
    return children


def _throughput(run: _Run, args: argparse.Namespace,
                values: Sequence[tuple[bytes, bytes]]) -> tuple[dict[str, Any], list[_Child], dict[int, int]]:
    """Start the workers, wait until each holds its partitions, load ``values`` into the raw topic,
    and measure the sustained rate from the first commit of the first stage to the last commit of
    the last. Returns the figures, the workers (still running) and the raw topic's end offsets.

    Fused: one ``core`` stage, raw → scored. Split: ``normalise`` (raw → alerts) and ``score``
    (alerts → scored).
    """

    if args.topology == "fused":
        first_stage, last_stage = "core", "core"
        workers = _start_workers(run, args, "core", args.core_workers)
        _wait_assigned(run.bootstrap, run.prefix + "g.core", RAW_ALERTS.partitions, 120, workers)
        last_input = RAW_ALERTS.name
    else:
        first_stage, last_stage = "normalise", "score"
        score = _start_workers(run, args, "score", args.score_workers)
        normalise = _start_workers(run, args, "normalise", args.normalise_workers)
        _wait_assigned(run.bootstrap, run.prefix + "g.score", ALERTS.partitions, 120, score)
        _wait_assigned(run.bootstrap, run.prefix + "g.normalise", RAW_ALERTS.partitions, 120, normalise)
        workers = score + normalise
        last_input = ALERTS.name
    _progress(f"workers ready; loading {len(values)} raw alerts")
    raw_ends = _load(run.bootstrap, run.prefix + RAW_ALERTS.name, values)
    total = sum(raw_ends.values())
    first_group = GroupOffsets(run.bootstrap, f"{run.prefix}g.{first_stage}", run.prefix + RAW_ALERTS.name)
    last_group = GroupOffsets(run.bootstrap, f"{run.prefix}g.{last_stage}", run.prefix + last_input)
    started = time.monotonic()
    timeout_s = max(180.0, total / 300)
    t_first: float | None = None
    cpu_first: dict[str, float] = {}
    cpu_last: dict[str, float] = {}
    t_first_done: float | None = None
    t_last_first: float | None = None
    t_last_last: float | None = None
    last_done = -1
    samples: list[tuple[float, int, int]] = []
    try:
        while True:
            now = time.monotonic()
            if now - started > timeout_s:
                raise BrokerError(f"the pipeline did not finish {total} alerts within {timeout_s:.0f}s")
            for child in workers:
                child.check_alive()
            run.sample_all()
            done_first = sum(first_group.committed().values())
            committed_last = last_group.committed()
            done = sum(committed_last.values())
            samples.append((now, done_first, done))
            if t_first is None and done_first > 0:
                t_first, cpu_first = now, run.cpu_seconds()
            if t_last_first is None and done > 0:
                t_last_first = now
            if done != last_done:
                last_done, t_last_last, cpu_last = done, now, run.cpu_seconds()
            if t_first_done is None and done_first >= total:
                t_first_done = now
            quiet = t_last_last is not None and now - t_last_last > 1.0
            if t_first_done is not None and quiet and last_group.caught_up(committed_last):
                break
            if len(samples) % 50 == 0:
                _progress(f"{first_stage} committed {done_first}/{total}, {last_stage} stage {done}")
            time.sleep(_POLL_S)
    finally:
        first_group.close()
        last_group.close()
    assert t_first is not None and t_first_done is not None and t_last_first is not None and t_last_last is not None
    elapsed = t_last_last - t_first
    stages = {first_stage: {"records": total, "elapsed_s": round(t_first_done - t_first, 2),
                            "records_per_s": round(total / max(t_first_done - t_first, 1e-9), 1)}}
    if last_stage != first_stage:
        stages[last_stage] = {"offsets": last_done, "elapsed_s": round(t_last_last - t_last_first, 2),
                              "records_per_s": round(last_done / max(t_last_last - t_last_first, 1e-9), 1)}
    result = {
        "raw_alerts": total,
        "elapsed_s": round(elapsed, 2),
        "sustained_alerts_per_s": round(total / elapsed, 1),
        "stages": stages,
        "timeline": _timeline(samples, t_first, first_stage, last_stage),
        "cpu_share": _cpu_share(cpu_first, cpu_last, elapsed),
    }
    return result, workers, raw_ends


def _cpu_share(before: dict[str, float], after: dict[str, float], elapsed: float) -> dict[str, float]:
    """CPU used per process over a span, in cores (1.0 = one core busy all the time)."""
    shares = {name: round((after[name] - before.get(name, 0.0)) / elapsed, 2)
              for name in after if elapsed > 0}
    shares["total"] = round(sum(shares.values()), 2)
    return shares


def _timeline(samples: list[tuple[float, int, int]], t0: float, first: str, last: str) -> list[dict[str, float]]:
    """Per-second rates of each stage's committed offsets (a coarse picture of the run)."""
    rows: list[dict[str, float]] = []
    previous: tuple[float, int, int] | None = None
    for sample in samples:
        if sample[0] < t0 - _POLL_S:
            continue
        if previous is None:
            previous = sample
            continue
        if sample[0] - previous[0] >= 5.0:
            span = sample[0] - previous[0]
            row = {"t_s": round(previous[0] - t0, 1), f"{first}_per_s": round((sample[1] - previous[1]) / span)}
            if last != first:
                row[f"{last}_per_s"] = round((sample[2] - previous[2]) / span)
            rows.append(row)
            previous = sample
    return rows


# --- the latency phase ---------------------------------------------------------------------------


class _LatencyProbe(threading.Thread):
    """Reads committed scored alerts as they arrive and stamps their receive time."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(name="latency-probe", daemon=True)
        self.topic = topic
        self.received: list[tuple[float, bytes]] = []
        self.stop_event = threading.Event()
        self._consumer = bench_clients(bootstrap).reader("bench-latency", **{"fetch.wait.max.ms": 10})
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._consumer.assign([
            TopicPartition(topic, p, self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
            for p in partitions])

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                message = self._consumer.poll(0.05)
                value = message.value() if message is not None and message.error() is None else None
                if value is not None:
                    self.received.append((time.time(), value))
        finally:
            self._consumer.close()


def _latency(run: _Run, args: argparse.Namespace, workers: Sequence[_Child]) -> dict[str, Any]:
    count = int(args.rate * args.latency_seconds)
    warmup = int(args.rate * _WARMUP_S)
    records = _generate(warmup + count, args.seed + _LATENCY_SEED_OFFSET)
    serde = AvroSerde()
    raw_topic, scored_topic = run.prefix + RAW_ALERTS.name, run.prefix + SCORED_ALERTS.name
    probe = _LatencyProbe(run.bootstrap, scored_topic)
    probe.start()
    # The sources' own producer settings: their linger is part of what an alert waits. One record
    # goes first so the producer id is acquired before the clock runs.
    producer = bench_clients(run.bootstrap).producer()
    first = records.pop(0)
    keys = [raw_alert_key(record) for record in records]  # as the sources key them, computed ahead
    producer.produce(raw_topic, key=raw_alert_key(first).encode(), value=serde.encode(first, topic=raw_topic))
    producer.flush(30)
    _progress(f"offering {args.rate:.0f} alerts/s for {_WARMUP_S:.0f}s (warm-up, not counted) "
              f"+ {args.latency_seconds:.0f}s")
    start = time.perf_counter()
    measured_from = time.time() + _WARMUP_S
    cpu_before: dict[str, float] = {}
    behind = 0
    for index, record in enumerate(records):
        delay = start + index / args.rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.005:
            behind += 1
        if index == warmup - 1:
            cpu_before = run.cpu_seconds()
        stamped = record.model_copy(update={"received_at": datetime.now(UTC)})
        producer.produce(raw_topic, key=keys[index].encode(), value=serde.encode(stamped, topic=raw_topic))
        producer.poll(0)
        if index % 1000 == 0:
            run.sample_all()
            for child in workers:
                child.check_alive()
    cpu_after = run.cpu_seconds()
    offered_s = time.perf_counter() - start - _WARMUP_S
    producer.flush(30)
    settle = time.monotonic()
    seen = len(probe.received)
    while time.monotonic() - settle < 10:
        time.sleep(0.5)
        if len(probe.received) == seen:
            break
        seen = len(probe.received)
    probe.stop_event.set()
    probe.join(5)
    run.sample_all()
    latencies: list[float] = []
    windows: dict[int, list[float]] = {}
    for received, value in probe.received:
        datum = serde.decode_dict(value, "ScoredAlert", topic=scored_topic)
        if datum.get("incident_update"):
            continue  # a member re-emitted for its incident: its ingestion time is its own alert's, older
        ingested: datetime = datum["alert"]["ingested_at"]
        if ingested.timestamp() >= measured_from:
            latency_ms = (received - ingested.timestamp()) * 1000
            latencies.append(latency_ms)
            windows.setdefault(int((ingested.timestamp() - measured_from) // 5) * 5, []).append(latency_ms)
    by_window = [{"t_s": t, "count": len(v), "p50": _percentiles(v)["p50"], "p99": _percentiles(v)["p99"]}
                 for t, v in sorted(windows.items())]
    return {"offered_per_s": args.rate, "offered_alerts": count, "achieved_offer_per_s": round(count / offered_s, 1),
            "late_sends": behind, **_percentiles(latencies), "by_5s_window": by_window,
            "cpu_share": _cpu_share(cpu_before, cpu_after, args.latency_seconds)}


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"count": len(ordered), "p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99),
            "max": round(ordered[-1], 1), "mean": round(statistics.fmean(ordered), 1)}


# --- the transport limit -------------------------------------------------------------------------


def _passthrough(run: _Run, mode: str, source: str, dest: str, stops: dict[int, int], compression: str,
                 max_batch: int, producer_overrides: dict[str, str] | None = None) -> dict[str, Any]:
    name = f"passthrough-{mode}"
    if mode == "faust":
        argv = [sys.executable, "-m", "streams.devtools.bench_faust", "--bootstrap", run.bootstrap, "--source", source,
                "--dest", dest, "--count", str(sum(stops.values())), "--app-id", f"{run.prefix}faust",
                "--datadir", str(run.workdir / "faust")]
    else:
        argv = [sys.executable, "-m", "streams.devtools.bench", "passthrough", "--bootstrap", run.bootstrap,
                "--mode", mode, "--source", source, "--dest", dest, "--group", f"{run.prefix}{name}",
                "--stops", json.dumps(stops), "--compression", compression, "--max-batch", str(max_batch),
                "--producer-overrides", json.dumps(producer_overrides or {})]
    child = run.spawn(name, argv)
    assert child.process.stdout is not None
    result: dict[str, Any] = {}
    stdout = child.process.stdout

    def read_result() -> None:
        # faust writes terminal escapes (its spinner) before our line: parse from the first brace.
        for line in iter(stdout.readline, b""):
            text = line.decode(errors="replace")
            if "{" in text:
                result.update(json.loads(text[text.index("{"):]))
                return

    reader = threading.Thread(target=read_result, daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while reader.is_alive() and time.monotonic() < deadline:
        run.sample_all()
        if child.process.poll() is not None:
            reader.join(1)
            break
        time.sleep(0.2)
    child.stop(run.peaks)
    if not result:
        raise BrokerError(f"{name} gave no result:\n{child.log_tail()}")
    return result


