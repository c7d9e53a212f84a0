"""Prometheus metrics of every Prismaflow worker, and the HTTP endpoint that serves them with the
process's health.

Names follow Prometheus conventions: ``prismaflow_`` prefix, base units, ``_total`` on counters,
labels of low cardinality (stage, source, outcome, partition) and never an alert id.

The endpoint (:func:`serve_metrics`) answers three paths:

- ``/metrics``: the Prometheus exposition of this process's registry;
- ``/healthz`` (liveness): 200 while the process's main loop has turned (:meth:`Health.beat`) within
  the liveness window, 503 once it has not (a loop stuck in a call: restarting the process helps);
- ``/readyz`` (readiness): 200 when every check the process registered
  (:meth:`Health.add_check`: broker reachable, group joined, state restored, sink target reachable)
  passes, else 503; the body names each check and its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from streams.kafka_clients import KafkaClients

__all__ = [
    "RECORDS_IN", "RECORDS_OUT", "DEAD_LETTERS", "PROCESS_SECONDS", "BATCH_SECONDS",
    "END_TO_END_SECONDS", "REKEYED", "TRANSACTIONS_ABORTED", "STATE_ENTRIES", "CONSUMER_LAG", "serve_metrics",
    "Health", "HEALTH", "MetricsServer", "CheckResult", "DEFAULT_LIVENESS_WINDOW_S", "beat_while_running",
]

log = logging.getLogger(__name__)

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


#: How long the main loop may go without turning before ``/healthz`` fails. Longer than a worker's
#: longest bounded call (a transaction retried through a broker outage gives up after 15 s, a sink's
#: pause slices are 0.5 s): a loop that has not turned for this long is stuck, not waiting.
DEFAULT_LIVENESS_WINDOW_S = 60.0
#: A readiness check that takes longer than this is answered as failing.
CHECK_TIMEOUT_S = 5.0

Check = Callable[[], "bool | str | None"]


@dataclass(frozen=True)
class CheckResult:
    """One readiness check's answer: passed or not, and why not."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Health:
    """The liveness heartbeat and the readiness checks of one process.

    The main loop calls :meth:`beat` each time it turns; long work between two turns that is not a
    hang (restoring a partition's state) is registered with :meth:`add_busy`. The code that builds
    the process registers its readiness checks with :meth:`add_check`. A check returns ``True``/``None`` when it passes and
    ``False`` or a reason (a string) when it does not; an exception is a failure with its message.
    """

    liveness_window_s: float = DEFAULT_LIVENESS_WINDOW_S
    clock: Callable[[], float] = time.monotonic
    _last_beat: float | None = None
    _started: float = field(default_factory=time.monotonic)
    _checks: dict[str, Check] = field(default_factory=dict)
    _busy: dict[str, Callable[[], bool]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def beat(self) -> None:
        """The main loop turned: the process is alive."""
        self._last_beat = self.clock()

    def add_check(self, name: str, check: Check) -> None:
        """Register (or replace) the readiness check ``name``."""
        with self._lock:
            self._checks[name] = check

    def add_busy(self, name: str, busy: Callable[[], bool]) -> None:
        """Register long work the loop does between two turns (a state restore): alive while it is true."""
        with self._lock:
            self._busy[name] = busy

    def remove_check(self, name: str) -> None:
        with self._lock:
            self._checks.pop(name, None)

    def reset(self) -> None:
        """Forget the heartbeat and the checks (tests; a process builds its health once)."""
        with self._lock:
            self._checks.clear()
            self._busy.clear()
            self._last_beat = None
            self._started = self.clock()

    def alive(self) -> tuple[bool, str]:
        """Liveness: the loop turned within the window (or the process is younger than the window)."""
        now = self.clock()
        if self._last_beat is None:
            age = now - self._started
            return age <= self.liveness_window_s, f"no loop turn yet, started {age:.1f}s ago"
        since = now - self._last_beat
        if since <= self.liveness_window_s:
            return True, f"last loop turn {since:.1f}s ago"
        with self._lock:
            busy = [name for name, check in self._busy.items() if check()]
        if busy:
            return True, f"last loop turn {since:.1f}s ago, busy: {', '.join(busy)}"
        return False, f"last loop turn {since:.1f}s ago"

    def ready(self) -> list[CheckResult]:
        """Every registered check's answer (an empty list: none registered, ready)."""
        with self._lock:
            checks = list(self._checks.items())
        return [_run_check(name, check) for name, check in checks]


def _run_check(name: str, check: Check) -> CheckResult:
    """Run one check on a helper thread, failing it after :data:`CHECK_TIMEOUT_S`."""
    answer: list[bool | str | None] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            answer.append(check())
        except Exception as exc:  # noqa: BLE001 - a failing check is an answer, not a crash
            failure.append(exc)

    thread = threading.Thread(target=target, name=f"readyz-{name}", daemon=True)
    thread.start()
    thread.join(CHECK_TIMEOUT_S)
    if thread.is_alive():
        return CheckResult(name, False, f"no answer within {CHECK_TIMEOUT_S:.0f}s")
    if failure:
        return CheckResult(name, False, f"{type(failure[0]).__name__}: {failure[0]}")
    value = answer[0]
    if value is None or value is True:
        return CheckResult(name, True)
    return CheckResult(name, False, value if isinstance(value, str) else "check failed")


#: The process's health: one per process, like the metrics registry.
HEALTH = Health()


async def beat_while_running(stop: asyncio.Event, health: Health | None = None, every_s: float = 5.0) -> None:
    """Liveness of an asyncio process (pollers, sync): beat every ``every_s`` while its loop runs tasks.

    Run it as a task beside the process's work; a blocked event loop stops the beats.
    """
    health = health or HEALTH
    while not stop.is_set():
        health.beat()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


def health_app(health: Health, registry: CollectorRegistry = REGISTRY) -> Callable[..., Iterable[bytes]]:
    """The WSGI app of the endpoint: ``/healthz``, ``/readyz``, and ``/metrics`` (any other path)."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            ok, detail = health.alive()
            return _json(start_response, ok, {"status": "ok" if ok else "stuck", "detail": detail})
        if path == "/readyz":
            results = health.ready()
            ok = all(result.ok for result in results)
            return _json(start_response, ok, {
                "status": "ready" if ok else "not ready",
                "checks": {r.name: ("ok" if r.ok else f"failing: {r.detail}") for r in results}})
        return metrics_app(environ, start_response)  # type: ignore[no-any-return]

    return app


def _json(start_response: Callable[..., Any], ok: bool, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body, sort_keys=True).encode()
    start_response("200 OK" if ok else "503 Service Unavailable",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Scrapes and probes every few seconds are not worth a log line each."""


@dataclass
class MetricsServer:
    """The running endpoint: where it listens, and how to stop it (tests)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(port: int, addr: str = "0.0.0.0", *, health: Health | None = None,
                  registry: CollectorRegistry = REGISTRY) -> MetricsServer | None:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``addr:port`` from a daemon thread.

    Port 0 disables the endpoint (``None``). ``addr`` defaults to every address, as a container's
    probes and scrapes come from outside it; bind ``127.0.0.1`` on a shared host.
    """
    if not port:
        return None
    server = make_server(addr, port, health_app(health or HEALTH, registry),
                         server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    log.info("metrics and health endpoint listening addr=%s port=%d", addr, server.server_address[1])
    return MetricsServer(server, thread)


# -- the readiness checks the processes register ------------------------------------------------
def broker_check(clients: KafkaClients, topics: Iterable[str]) -> Check:
    """Ready when the broker answers a metadata request and every one of ``topics`` exists there.

    Uses its own admin client (created on first use), so a probe never waits on the worker's
    consumer or producer.
    """
    wanted = sorted(set(topics))
    admin: list[Any] = []

    def check() -> bool | str:
        if not admin:
            admin.append(clients.admin(**{"socket.timeout.ms": 3000}))
        metadata = admin[0].list_topics(timeout=CHECK_TIMEOUT_S - 1)
        missing = [t for t in wanted if t not in metadata.topics or metadata.topics[t].error is not None]
        return f"topics missing on the broker: {', '.join(missing)}" if missing else True

    return check


def group_joined_check(worker: Any) -> Check:
    """Ready once the consumer group has given ``worker`` its assignment (its ``joined`` flag).

    The flag is set by the worker's own rebalance callback: a probe never calls into the worker's
    consumer from another thread.
    """
    def check() -> bool | str:
        return True if worker.joined else "no assignment from the consumer group yet"

    return check


def sink_target_check(sink: str, registry: CollectorRegistry = REGISTRY) -> Check:
    """Ready unless the sink is paused waiting out an outage of its target (``prismaflow_sink_paused``)."""
    def check() -> bool | str:
        paused = registry.get_sample_value("prismaflow_sink_paused", {"sink": sink})
        return f"sink {sink} paused: its target is unreachable" if paused else True

    return check
