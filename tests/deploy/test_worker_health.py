"""A real stream worker process serves /metrics, /healthz and /readyz, and its readiness is real:
it waits for the broker's topics, the group and the state restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.worker_process import start_core_worker, start_worker

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


def test_a_worker_whose_topics_are_missing_is_alive_but_not_ready(kafka_bootstrap: str, topic_prefix: str,
                                                                   tmp_path: Path) -> None:
    worker = start_core_worker(kafka_bootstrap, topic_prefix, tmp_path / "home")  # no catalogue created
    try:
        worker.wait_for("/healthz", 200)
        not_ready = worker.wait_for("/readyz", 503)
        broker = not_ready["checks"]["broker"]
        assert broker.startswith("failing: topics missing on the broker:")
        assert f"{topic_prefix}prisma.alerts.raw" in broker
    finally:
        worker.stop()


def test_a_running_sink_reports_its_target_in_readiness(kafka_bootstrap: str, catalogue: str, tmp_path: Path) -> None:
    worker = start_worker(["sink", "siem"], kafka_bootstrap, catalogue, tmp_path / "home")
    try:
        ready = worker.wait_for("/readyz", 200)
        assert ready["checks"] == {"broker": "ok", "group": "ok", "target": "ok"}
        assert worker.wait_for("/healthz", 200)["status"] == "ok"
    finally:
        assert worker.stop() == 0
