"""A real Prometheus (Debian's ``prometheus`` binary) scrapes running Prismaflow workers (the stream
core and a sink) with the shipped alert rules; when one stops, the target-down alert fires for it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.worker_process import WorkerProcess, free_port, http_get, start_core_worker, start_worker

pytestmark = pytest.mark.broker

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _rules_firing_at_once(target: Path) -> None:
    """The shipped rules, with the target-down rule's ``for`` cut from minutes to six seconds (only that):
    three missed scrapes in a row, so one slow scrape on a loaded machine does not fire it."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "PrismaflowTargetDown":
                rule["for"] = "6s"
    target.write_text(yaml.safe_dump(rules))


class Prometheus:
    """A Prometheus server on a free local port, scraping every two seconds and evaluating every second."""

    def __init__(self, home: Path, targets: list[str]) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is missing: scripts/system-deps.sh test installs Debian's prometheus package"
        home.mkdir(parents=True, exist_ok=True)
        _rules_firing_at_once(home / "alerts.yml")
        (home / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "2s", "evaluation_interval": "1s", "scrape_timeout": "2s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [{"job_name": "prismaflow", "static_configs": [{"targets": targets}]}],
        }))
        self.port = free_port()
        self.log_path = home / "prometheus.log"
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [binary, f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"], stdout=log_file, stderr=subprocess.STDOUT)

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = http_get(f"http://127.0.0.1:{self.port}/api/v1/{path}{query}")
        assert status == 200, body
        return json.loads(body)["data"]

    def wait_until(self, what: str, condition: Any, timeout_s: float = 60.0) -> Any:
        deadline, last = time.monotonic() + timeout_s, None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            try:
                last = condition()
                if last:
                    return last
            except OSError as error:
                last = error
            time.sleep(0.5)
        raise AssertionError(f"{what} never happened; last: {last}\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def pipeline(kafka_bootstrap: str, catalogue: str, tmp_path: Path) -> Iterator[tuple[Prometheus, WorkerProcess, WorkerProcess]]:
    """The stream core and the SIEM sink running, and a Prometheus scraping both."""
    core = start_core_worker(kafka_bootstrap, catalogue, tmp_path / "core")
    sink = start_worker(["sink", "siem"], kafka_bootstrap, catalogue, tmp_path / "sink")
    # Prometheus starts once both serve: a worker still starting after the test's 6 s `for` would
    # rightly count as a target down (seen on a loaded machine, where start-up took longer).
    try:
        core.wait_for("/readyz", 200)
        sink.wait_for("/readyz", 200)
    except AssertionError:
        core.stop()
        sink.stop()
        raise
    prometheus = Prometheus(tmp_path / "prometheus", [f"127.0.0.1:{core.port}", f"127.0.0.1:{sink.port}"])
    try:
        yield prometheus, core, sink
    finally:
        prometheus.stop()
        core.stop()
        sink.stop()


def test_prometheus_scrapes_the_workers_and_fires_target_down_for_the_one_that_stops(
        pipeline: tuple[Prometheus, WorkerProcess, WorkerProcess]) -> None:
    prometheus, core, sink = pipeline
    core.wait_for("/readyz", 200)
    sink.wait_for("/readyz", 200)

    def both_up() -> bool:
        return len(prometheus.api("query", query='up{job="prismaflow"} == 1')["result"]) == 2

    prometheus.wait_until("both workers scraped", both_up)
    families = prometheus.api("label/__name__/values")
    assert "prismaflow_core_links_total" in families  # the core's own metrics reached Prometheus
    scraped = prometheus.api("query", query='scrape_samples_scraped{job="prismaflow"} > 0')["result"]
    assert {r["metric"]["instance"] for r in scraped} == {f"127.0.0.1:{core.port}", f"127.0.0.1:{sink.port}"}

    def target_down_firing() -> list[Any]:
        return [a for a in prometheus.api("alerts")["alerts"]
                if a["labels"]["alertname"] == "PrismaflowTargetDown" and a["state"] == "firing"]

    # A scrape made while a worker was still starting (a loaded machine) may have fired the rule; with
    # both targets up it must resolve at the next rule evaluation, and stay quiet.
    prometheus.wait_until("no PrismaflowTargetDown while both workers are up", lambda: not target_down_firing())

    assert core.stop() == 0

    firing = prometheus.wait_until("PrismaflowTargetDown firing", target_down_firing)
    assert [a["labels"]["instance"] for a in firing] == [f"127.0.0.1:{core.port}"]  # the sink is still up
    assert firing[0]["labels"]["severity"] == "critical"
