"""The metrics endpoint also answers liveness (/healthz: the loop turns) and readiness (/readyz:
every registered check passes), and listens where it is told."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge

from streams.metrics import Health, MetricsServer, serve_metrics, sink_target_check


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(server: MetricsServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> Health:
    return Health(liveness_window_s=30.0, clock=clock, _started=clock.now)


@pytest.fixture
def server(health: Health) -> Iterator[MetricsServer]:
    registry = CollectorRegistry()
    Gauge("prismaflow_test_gauge", "A gauge of this test", registry=registry).set(7)
    running = serve_metrics(_free_port(), "127.0.0.1", health=health, registry=registry)
    assert running is not None
    yield running
    running.close()


def test_metrics_path_serves_the_registry(server: MetricsServer) -> None:
    status, body = _get(server, "/metrics")
    assert status == 200
    assert "prismaflow_test_gauge 7.0" in body


def test_liveness_follows_the_heartbeat(server: MetricsServer, health: Health, clock: FakeClock) -> None:
    assert _get(server, "/healthz")[0] == 200  # young process, no beat yet
    clock.now += 31
    status, body = _get(server, "/healthz")
    assert status == 503 and "no loop turn yet" in json.loads(body)["detail"]
    health.beat()
    assert _get(server, "/healthz")[0] == 200
    clock.now += 29
    assert _get(server, "/healthz")[0] == 200
    clock.now += 2
    status, body = _get(server, "/healthz")
    assert status == 503 and json.loads(body)["status"] == "stuck"


def test_long_registered_work_keeps_the_process_alive(server: MetricsServer, health: Health,
                                                      clock: FakeClock) -> None:
    restoring = threading.Event()
    health.add_busy("restoring state", restoring.is_set)
    health.beat()
    clock.now += 45
    restoring.set()
    status, body = _get(server, "/healthz")
    assert status == 200 and json.loads(body)["detail"] == "last loop turn 45.0s ago, busy: restoring state"
    restoring.clear()
    assert _get(server, "/healthz")[0] == 503


def test_readiness_needs_every_check_to_pass_and_names_the_failing_one(server: MetricsServer, health: Health) -> None:
    assert _get(server, "/readyz")[0] == 200  # nothing registered
    broker_up = threading.Event()
    health.add_check("broker", lambda: True if broker_up.is_set() else "broker unreachable")
    health.add_check("state", lambda: None)
    status, body = _get(server, "/readyz")
    assert status == 503
    assert json.loads(body)["checks"] == {"broker": "failing: broker unreachable", "state": "ok"}
    broker_up.set()
    status, body = _get(server, "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"


def test_a_check_that_raises_or_answers_false_fails(server: MetricsServer, health: Health) -> None:
    def broken() -> bool:
        raise ConnectionError("refused")

    health.add_check("raises", broken)
    health.add_check("false", lambda: False)
    status, body = _get(server, "/readyz")
    checks = json.loads(body)["checks"]
    assert status == 503
    assert checks["raises"] == "failing: ConnectionError: refused"
    assert checks["false"] == "failing: check failed"


def test_sink_readiness_follows_the_paused_gauge() -> None:
    registry = CollectorRegistry()
    paused = Gauge("prismaflow_sink_paused", "1 while a sink waits out an outage", ["sink"], registry=registry)
    check = sink_target_check("jira", registry)
    assert check() is True  # never paused yet
    paused.labels("jira").set(1)
    assert check() == "sink jira paused: its target is unreachable"
    paused.labels("jira").set(0)
    assert check() is True


def test_port_zero_serves_nothing() -> None:
    assert serve_metrics(0) is None


def test_the_endpoint_listens_only_on_the_address_given(health: Health) -> None:
    port = _free_port()
    running = serve_metrics(port, "127.0.0.1", health=health, registry=CollectorRegistry())
    assert running is not None
    try:
        assert running.server.server_address[0] == "127.0.0.1"
    finally:
        running.close()
    everywhere = serve_metrics(port, "0.0.0.0", health=health, registry=CollectorRegistry())
    assert everywhere is not None
    try:
        assert everywhere.server.server_address[0] == "0.0.0.0"
        assert _get(everywhere, "/healthz")[0] == 200
    finally:
        everywhere.close()
