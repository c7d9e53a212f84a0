"""``prismaflow bench``: throughput and latency figures of the stream core on a real broker.

A benchmark, not a test: it passes or fails nothing, it prints one JSON document (and writes it to
``$PRISMAFLOW_HOME/bench/latest.json``). Progress goes to stderr so stdout stays clean JSON.

What one run does, all on the same broker (``KAFKA_BOOTSTRAP_SERVERS`` when set, else a local broker
on free ports in a temporary folder, stopped at the end), under a fresh topic prefix ``bench-<id>.``:

1. **Throughput.** Loads ``--alerts`` simulator alerts (repeats, status changes, noise) into the raw
   topic, starts the workers (``prismaflow run score`` then ``run normalise``, as subprocesses) and
   follows their committed consumer-group offsets: sustained alerts/s is the raw alerts divided by
   the time from the first committed normalise batch to the last committed score batch.
2. **Latency.** With the workers running and idle, a paced producer offers ``--rate`` fresh alerts
   per second (``received_at`` stamped at produce time) for ``--latency-seconds``; a ``read_committed``
   consumer on the scored topic takes receive time minus ``alert.ingested_at`` per scored alert.
3. **Transport limit.** The same raw messages copied, bytes untouched, by a plain confluent-kafka
   consume-and-produce loop, by the same loop with one transaction per batch (what our exactly-once
   workers pay), and by a faust-streaming agent (:mod:`streams.bench_faust`), each a subprocess.

Peak RSS is the kernel's high-water mark (``VmHWM``) of each process, broker included. A failure of
the broker or a worker raises :class:`~processors.errors.BrokerError` with the tail of its log.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from processors.errors import BrokerError

__all__ = ["GOALS", "add_arguments", "main", "register", "run_bench"]

GOALS = {"sustained_alerts_per_s": 10_000.0, "latency_p99_ms": 25.0, "ratio_to_transport_limit": 0.5}
"""The issue's goals on a 2-core machine with the broker on it."""

_POLL_S = 0.1  # how often group offsets are sampled in the throughput phase
_LATENCY_SEED_OFFSET = 10_000  # estates of the latency phase differ from the throughput phase's
_WARMUP_S = 2.0  # offered before the latency phase's clock starts (connections, caches, first batches)


# --- options -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``prismaflow bench``."""
    parser.add_argument("--alerts", type=int, default=100_000, help="raw alerts of the throughput phase")
    parser.add_argument("--rate", type=float, default=500.0, help="offered alerts/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the latency phase")
    parser.add_argument("--normalise-workers", type=int, default=1, help="normalise processes")
    parser.add_argument("--score-workers", type=int, default=1, help="score processes")
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


# --- small helpers -------------------------------------------------------------------------------


_STARTED = time.monotonic()


def _progress(message: str) -> None:
    print(f"bench: {time.monotonic() - _STARTED:6.1f}s {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of the process's resident set (``VmHWM``), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return round(float(psutil.Process(pid).memory_info().rss) / 2**20, 1)
    except Exception:  # noqa: BLE001 - gone or not ours: no figure
        return None


class _Peaks:
    """Peak RSS per named process, kept up to date by :meth:`sample` (read again before each stops)."""

    def __init__(self) -> None:
        self.mb: dict[str, float] = {}

    def sample(self, name: str, pid: int | None) -> None:
        if pid is None:
            return
        value = _peak_rss_mb(pid)
        if value is not None:
            self.mb[name] = max(value, self.mb.get(name, 0.0))


@dataclass
class _Child:
    """A subprocess of the bench with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BrokerError(f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}")

    def stop(self, peaks: _Peaks, grace_s: float = 15.0) -> None:
        peaks.sample(self.name, self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class _Run:
    """Where this run talks to and what it keeps."""

    bootstrap: str
    prefix: str
    workdir: Path
    peaks: _Peaks
    broker_pid: int | None
    kafka_version: str
    children: list[_Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> _Child:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE if name.startswith("passthrough") else out,
                                       stderr=out, stdin=subprocess.DEVNULL,
                                       env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, **(env or {})})
        child = _Child(name, process, log)
        self.children.append(child)
        return child

    def cpu_seconds(self) -> dict[str, float]:
        """User+system CPU seconds used so far by the broker, each live child and this process."""
        import psutil

        pids = {"broker": self.broker_pid, "bench": os.getpid(),
                **{c.name: c.process.pid for c in self.children if c.process.poll() is None}}
        seconds: dict[str, float] = {}
        for name, pid in pids.items():
            if pid is None:
                continue
            try:
                times = psutil.Process(pid).cpu_times()
                seconds[name] = times.user + times.system
            except psutil.Error:
                continue
        return seconds

    def sample_all(self) -> None:
        self.peaks.sample("broker", self.broker_pid)
        for child in self.children:
            if child.process.poll() is None:
                self.peaks.sample(child.name, child.process.pid)


@contextmanager
def _broker(workdir: Path) -> Iterator[tuple[str, int | None, str]]:
    """Bootstrap servers, broker pid (None when external) and Kafka version of the broker to use."""
    from streams.broker import LocalBroker, wait_for_metadata
    from streams.settings import BrokerSettings, KafkaSettings

    kafka = KafkaSettings()
    if "bootstrap_servers" in kafka.model_fields_set:
        wait_for_metadata(kafka.bootstrap_servers, 60)
        _progress(f"using the broker at {kafka.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
        yield kafka.bootstrap_servers, None, "external"
        return
    settings = BrokerSettings(home=workdir / "broker", port=_free_port(), controller_port=_free_port())
    broker = LocalBroker(settings)
    _progress(f"starting a local Kafka {settings.kafka_version} broker on {settings.bootstrap_servers}")
    status = broker.start()
    try:
        yield settings.bootstrap_servers, status.pid, settings.kafka_version
    finally:
        broker.stop()


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="prismaflow-bench-") as tmp:
        yield Path(tmp)


# --- traffic -------------------------------------------------------------------------------------


def _generate(n: int, seed: int) -> list[Any]:
    from connectors.prisma.simulator.traffic import raw_alert_stream

    return list(raw_alert_stream(n, seed=seed))


def _load(bootstrap: str, topic: str, values: Sequence[tuple[bytes, bytes]], compression: str = "zstd") -> dict[int, int]:
    """Produce ``(key, value)`` pairs as a source would; return the end offset of each partition."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    from streams.publish import producer_config
    from streams.settings import KafkaSettings

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


# --- the throughput phase ------------------------------------------------------------------------


class _GroupOffsets:
    """Committed offsets of a consumer group on one topic, summed over partitions."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.topic = topic
        # A consumer that never subscribes does not join the group: it only reads its offsets.
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        partitions = self._consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self._tps = [TopicPartition(topic, p) for p in sorted(partitions)]

    def committed(self) -> dict[int, int]:
        return {tp.partition: max(tp.offset, 0) for tp in self._consumer.committed(self._tps, timeout=10)}

    def ends(self) -> dict[int, int]:
        return {tp.partition: self._consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in self._tps}

    def close(self) -> None:
        self._consumer.close()


def _wait_assigned(bootstrap: str, group: str, partitions: int, timeout_s: float, children: Sequence[_Child]) -> None:
    """Block until the group's members hold all ``partitions`` of their input topic."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            child.check_alive()
        try:
            description = admin.describe_consumer_groups([group], request_timeout=5)[group].result()
            held = sum(len(m.assignment.topic_partitions) for m in description.members if m.assignment)
            if held >= partitions:
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
            argv += ["-m", "streams.bench", "worker", stage, "--overrides",
                     json.dumps({"producer": _overrides(args.producer_override),
                                 "consumer": _overrides(args.consumer_override)})]
        else:
            argv += ["-m", "streams.cli", "run", stage]
        if args.debug_workers:
            argv.insert(argv.index("run" if "run" in argv else "worker"), "-v")
        children.append(run.spawn(name, argv, _worker_env(run, args, str(n))))
    return children


def _throughput(run: _Run, args: argparse.Namespace, raw_ends: dict[int, int]) -> tuple[dict[str, Any], list[_Child]]:
    from streams.topics import ALERTS, RAW_ALERTS

    total = sum(raw_ends.values())
    score = _start_workers(run, args, "score", args.score_workers)
    _wait_assigned(run.bootstrap, run.prefix + "g.score", ALERTS.partitions, 120, score)
    norm_group = _GroupOffsets(run.bootstrap, run.prefix + "g.normalise", run.prefix + RAW_ALERTS.name)
    score_group = _GroupOffsets(run.bootstrap, run.prefix + "g.score", run.prefix + ALERTS.name)
    _progress(f"score worker(s) ready; starting normalise, {total} raw alerts waiting")
    normalise = _start_workers(run, args, "normalise", args.normalise_workers)
    workers = score + normalise
    started = time.monotonic()
    timeout_s = max(180.0, total / 300)
    t_first: float | None = None
    cpu_first: dict[str, float] = {}
    cpu_last: dict[str, float] = {}
    t_norm_done: float | None = None
    t_score_first: float | None = None
    t_score_last: float | None = None
    last_score = -1
    samples: list[tuple[float, int, int]] = []
    try:
        while True:
            now = time.monotonic()
            if now - started > timeout_s:
                raise BrokerError(f"the pipeline did not finish {total} alerts within {timeout_s:.0f}s")
            for child in workers:
                child.check_alive()
            run.sample_all()
            done_norm = sum(norm_group.committed().values())
            committed_score = score_group.committed()
            done_score = sum(committed_score.values())
            samples.append((now, done_norm, done_score))
            if t_first is None and done_norm > 0:
                t_first, cpu_first = now, run.cpu_seconds()
            if t_score_first is None and done_score > 0:
                t_score_first = now
            if done_score != last_score:
                last_score, t_score_last, cpu_last = done_score, now, run.cpu_seconds()
            if t_norm_done is None and done_norm >= total:
                t_norm_done = now
            if t_norm_done is not None:
                # The last offset of a transactional partition is a commit marker (hence the -1).
                ends = score_group.ends()
                caught_up = all(committed_score.get(p, 0) >= end - 1 for p, end in ends.items())
                if caught_up and t_score_last is not None and now - t_score_last > 1.0:
                    break
            if len(samples) % 50 == 0:
                _progress(f"normalised {done_norm}/{total}, score stage committed {done_score}")
            time.sleep(_POLL_S)
    finally:
        norm_group.close()
        score_group.close()
    assert t_first is not None and t_norm_done is not None and t_score_first is not None and t_score_last is not None
    alerts = last_score
    elapsed = t_score_last - t_first
    result = {
        "raw_alerts": total,
        "elapsed_s": round(elapsed, 2),
        "sustained_alerts_per_s": round(total / elapsed, 1),
        "stages": {
            "normalise": {"records": total, "elapsed_s": round(t_norm_done - t_first, 2),
                          "records_per_s": round(total / max(t_norm_done - t_first, 1e-9), 1)},
            "score": {"offsets": alerts, "elapsed_s": round(t_score_last - t_score_first, 2),
                      "records_per_s": round(alerts / max(t_score_last - t_score_first, 1e-9), 1)},
        },
        "timeline": _timeline(samples, t_first),
        "cpu_share": _cpu_share(cpu_first, cpu_last, elapsed),
    }
    return result, workers


def _cpu_share(before: dict[str, float], after: dict[str, float], elapsed: float) -> dict[str, float]:
    """CPU used per process over a span, in cores (1.0 = one core busy all the time)."""
    shares = {name: round((after[name] - before.get(name, 0.0)) / elapsed, 2)
              for name in after if elapsed > 0}
    shares["total"] = round(sum(shares.values()), 2)
    return shares


def _timeline(samples: list[tuple[float, int, int]], t0: float) -> list[dict[str, float]]:
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
            rows.append({"t_s": round(previous[0] - t0, 1),
                         "normalise_per_s": round((sample[1] - previous[1]) / span),
                         "score_per_s": round((sample[2] - previous[2]) / span)})
            previous = sample
    return rows


# --- the latency phase ---------------------------------------------------------------------------


class _LatencyProbe(threading.Thread):
    """Reads committed scored alerts as they arrive and stamps their receive time."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(name="latency-probe", daemon=True)
        from confluent_kafka import Consumer, TopicPartition

        self.topic = topic
        self.received: list[tuple[float, bytes]] = []
        self.stop_event = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-latency-{uuid.uuid4().hex}",
                                   "isolation.level": "read_committed", "enable.auto.commit": False,
                                   "fetch.wait.max.ms": 10})
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
    from confluent_kafka import Producer

    from streams.publish import producer_config
    from streams.serde import AvroSerde
    from streams.settings import KafkaSettings
    from streams.topics import RAW_ALERTS, SCORED_ALERTS

    count = int(args.rate * args.latency_seconds)
    warmup = int(args.rate * _WARMUP_S)
    records = _generate(warmup + count, args.seed + _LATENCY_SEED_OFFSET)
    serde = AvroSerde()
    raw_topic, scored_topic = run.prefix + RAW_ALERTS.name, run.prefix + SCORED_ALERTS.name
    probe = _LatencyProbe(run.bootstrap, scored_topic)
    probe.start()
    # The sources' own producer settings: their linger is part of what an alert waits. One record
    # goes first so the producer id is acquired before the clock runs.
    producer = Producer(producer_config(KafkaSettings(bootstrap_servers=run.bootstrap)))
    first = records.pop(0)
    producer.produce(raw_topic, key=first.source_alert_id.encode(), value=serde.encode(first, topic=raw_topic))
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
        producer.produce(raw_topic, key=record.source_alert_id.encode(), value=serde.encode(stamped, topic=raw_topic))
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
        ingested: datetime = serde.decode_dict(value, "ScoredAlert", topic=scored_topic)["alert"]["ingested_at"]
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
        argv = [sys.executable, "-m", "streams.bench_faust", "--bootstrap", run.bootstrap, "--source", source,
                "--dest", dest, "--count", str(sum(stops.values())), "--app-id", f"{run.prefix}faust",
                "--datadir", str(run.workdir / "faust")]
    else:
        argv = [sys.executable, "-m", "streams.bench", "passthrough", "--bootstrap", run.bootstrap,
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


def run_bench(args: argparse.Namespace) -> int:
    """Run every phase, print the JSON document, write it to the output file; 0 unless it broke."""
    from confluent_kafka.admin import AdminClient

    from streams.run import WorkerSettings
    from streams.serde import AvroSerde
    from streams.settings import default_home
    from streams.topics import (
        ALERTS,
        CATALOGUE,
        DLQ,
        RAW_ALERTS,
        SCORED_ALERTS,
        create_topics,
    )

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    if load_at_start[0] > 1.0:
        _progress(f"warning: load average {load_at_start[0]} before the run: other work shares these CPUs")
    bench_id = uuid.uuid4().hex[:8]
    prefix = f"bench-{bench_id}."
    began = time.monotonic()
    with _workdir(args.workdir) as workdir, _broker(workdir) as (bootstrap, pid, kv):
        run = _Run(bootstrap, prefix, workdir, _Peaks(), pid, kv)
        passthrough_topics = tuple(replace(ALERTS, name=f"bench.passthrough.{m}") for m in ("plain", "transactional"))
        # aiokafka (under faust) reads no zstd without an extra codec package: faust gets its own
        # uncompressed copy of the raw messages, and a plain passthrough on that copy for comparison.
        faust_topics = tuple(replace(ALERTS, name=f"bench.uncompressed.{n}", compression="producer")
                             for n in ("source", "faust", "plain"))
        create_topics(cast(Any, AdminClient({"bootstrap.servers": bootstrap})),
                      CATALOGUE + passthrough_topics + faust_topics, prefix=prefix)
        try:
            _progress(f"generating {args.alerts} raw alerts (seed {args.seed})")
            serde = AvroSerde()
            raw_topic = prefix + RAW_ALERTS.name
            values = [(r.source_alert_id.encode(), serde.encode(r, topic=raw_topic))
                      for r in _generate(args.alerts, args.seed)]
            raw_ends = _load(bootstrap, raw_topic, values)
            mean_bytes = sum(len(v) for _, v in values) / max(1, len(values))
            throughput, workers = _throughput(run, args, raw_ends)
            _progress(f"throughput: {throughput['sustained_alerts_per_s']} alerts/s; measuring latency")
            latency = _latency(run, args, workers)
            for child in workers:
                child.stop(run.peaks)
            outputs = {"alerts": _count_committed(bootstrap, prefix + ALERTS.name),
                       "scored": _count_committed(bootstrap, prefix + SCORED_ALERTS.name),
                       "dead_letters": _count_committed(bootstrap, prefix + DLQ.name)}
            transport: dict[str, Any] = {}
            if not args.no_passthrough:
                max_batch = args.max_batch or WorkerSettings().max_batch
                for mode, spec in zip(("plain", "transactional"), passthrough_topics):
                    _progress(f"transport limit: {mode} passthrough of {args.alerts} messages")
                    transport[mode] = _passthrough(
                        run, mode, raw_topic, prefix + spec.name, raw_ends, "zstd", max_batch,
                        _overrides(args.producer_override) if mode == "transactional" else None)
                if not args.no_faust:
                    source, faust_dest, plain_dest = (prefix + t.name for t in faust_topics)
                    ends = _load(bootstrap, source, values, compression="none")
                    _progress("transport limit: plain passthrough on uncompressed topics")
                    transport["plain_uncompressed"] = _passthrough(run, "plain", source, plain_dest, ends, "none",
                                                                   max_batch)
                    _progress("transport limit: faust-streaming passthrough on uncompressed topics")
                    transport["faust_uncompressed"] = _passthrough(run, "faust", source, faust_dest, ends, "none",
                                                                   max_batch)
            run.sample_all()
        finally:
            for child in run.children:
                child.stop(run.peaks)
    report = _report(args, run, throughput, latency, transport, outputs, mean_bytes, time.monotonic() - began)
    report["machine"]["load_average_at_start"] = load_at_start
    text = json.dumps(report, indent=2)
    print(text)
    output = args.output or default_home() / "bench" / "latest.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n")
    _progress(f"written to {output}")
    return 0


def _report(args: argparse.Namespace, run: _Run, throughput: dict[str, Any], latency: dict[str, Any],
            transport: dict[str, Any], outputs: dict[str, int], mean_bytes: float, wall_s: float) -> dict[str, Any]:
    from connectors.prisma.simulator.traffic import TrafficMix
    from streams.run import WorkerSettings

    settings = WorkerSettings()
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
                   "mean_raw_bytes": round(mean_bytes), "normalise_workers": args.normalise_workers,
                   "score_workers": args.score_workers,
                   "max_batch": args.max_batch or settings.max_batch,
                   "poll_timeout_ms": args.poll_timeout_ms if args.poll_timeout_ms is not None
                   else settings.poll_timeout_ms,
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


# --- the passthrough subprocess --------------------------------------------------------------------


def _passthrough_main(argv: Sequence[str]) -> int:
    """``python -m streams.bench passthrough``: copy messages bytes-untouched, print one JSON line."""
    from confluent_kafka import Consumer, Producer

    from streams.publish import producer_config
    from streams.settings import KafkaSettings

    parser = argparse.ArgumentParser(prog="python -m streams.bench passthrough")
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
    producer = Producer(producer_config(kafka, **overrides))
    if transactional:
        producer.init_transactions(30)
    consumer = Consumer({**kafka.client_config(), "group.id": args.group, "enable.auto.commit": not transactional,
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "partition.assignment.strategy": "cooperative-sticky", "fetch.wait.max.ms": 10})
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
    """``python -m streams.bench [-v] worker <stage> --overrides JSON``: ``prismaflow run <stage>`` with
    extra client settings patched into its :class:`~streams.worker.WorkerOptions` (what-if runs only)."""
    import functools

    import streams.run
    from streams.cli import main as cli_main
    from streams.worker import WorkerOptions

    verbose = ["-v"] if argv[0] == "-v" else []
    rest = list(argv[len(verbose) + 1:])
    stage, overrides = rest[0], json.loads(rest[rest.index("--overrides") + 1])
    options: Any = functools.partial(
        WorkerOptions, producer_overrides=overrides["producer"], consumer_overrides=overrides["consumer"])
    streams.run.WorkerOptions = options  # type: ignore[attr-defined]
    return cli_main([*verbose, "run", stage])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.bench [options]`` (the same as ``prismaflow bench``), or the passthrough."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["passthrough"]:
        return _passthrough_main(argv[1:])
    if "worker" in argv[:2]:
        return _worker_main(argv)
    parser = argparse.ArgumentParser(prog="python -m streams.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_bench(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
