"""Real Prismaflow processes (stream core, a sink, the pollers, the ticket sync) serve /metrics,
/healthz and /readyz, and their readiness is real: it waits for the broker's topics, the group and
the state restore."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.audit_keys import TEST_SIGNER
from tests.deploy.worker_process import start_core_worker, start_simulator, start_worker

pytestmark = pytest.mark.broker


def test_a_running_core_worker_is_alive_ready_and_scrapeable(kafka_bootstrap: str, catalogue: str,
                                                             tmp_path: Path) -> None:
    worker = start_core_worker(kafka_bootstrap, catalogue, tmp_path / "home")
    try:
        ready = worker.wait_for("/readyz", 200)
        assert ready["checks"] == {"broker": "ok", "group": "ok", "state": "ok"}
        alive = worker.wait_for("/healthz", 200)
        assert alive["status"] == "ok" and alive["detail"].startswith("last loop turn")
        status, body = worker.get("/metrics")
        assert status == 200
        assert "# TYPE prismaflow_consumer_lag_records gauge" in body
        assert 'prismaflow_core_links_total{kind="member",stage="core"}' in body
    finally:
        assert worker.stop() == 0


def test_a_running_sink_reports_its_target_in_readiness(kafka_bootstrap: str, catalogue: str, tmp_path: Path) -> None:
    worker = start_worker(["sink", "siem"], kafka_bootstrap, catalogue, tmp_path / "home")
    try:
        ready = worker.wait_for("/readyz", 200)
        assert ready["checks"] == {"broker": "ok", "group": "ok", "target": "ok"}
        assert worker.wait_for("/healthz", 200)["status"] == "ok"
    finally:
        assert worker.stop() == 0


def test_the_pollers_and_the_sync_serve_health_on_their_ports(kafka_bootstrap: str, catalogue: str,
                                                              tmp_path: Path) -> None:
    prisma, prisma_url = start_simulator("connectors.prisma.simulator", tmp_path / "sims")
    jira, jira_url = start_simulator("connectors.jira.simulator", tmp_path / "sims")
    env = {"PRISMAFLOW_PRISMA_API_URL": prisma_url, "PRISMAFLOW_PRISMA_COMPUTE_URL": prisma_url,
           "PRISMAFLOW_JIRA_BASE_URL": jira_url,
           "PRISMAFLOW_AUDIT_SIGNING_KEY": TEST_SIGNER.secret_text()}  # the sync writes audit records: signed
    poll = start_worker(["poll"], kafka_bootstrap, catalogue, tmp_path / "poll", env=env)
    sync = start_worker(["sync", "jira"], kafka_bootstrap, catalogue, tmp_path / "sync", env=env)
    try:
        assert poll.wait_for("/readyz", 200)["checks"] == {"broker": "ok"}
        assert sync.wait_for("/readyz", 200)["checks"] == {"broker": "ok"}
        deadline = time.monotonic() + 90
        # Alive by the event loop's own heartbeat (not the start-up grace), and the poll went through.
        while not (poll.get("/healthz")[1].count("last loop turn") and sync.get("/healthz")[1].count("last loop turn")
                   and 'prismaflow_source_polls_total{outcome="ok"' in poll.get("/metrics")[1]):
            assert time.monotonic() < deadline, f"poller or sync not turning: {poll.log()}\n{sync.log()}"
            time.sleep(1)
    finally:
        codes = (poll.stop(), sync.stop())
        for simulator in (prisma, jira):
            simulator.terminate()
            simulator.wait(20)
    assert codes == (0, 0)
