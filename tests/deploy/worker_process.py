"""A real ``prismaflow run core`` process for the deployment tests: started with its metrics
endpoint on a free local port, stopped with SIGTERM as Kubernetes stops it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET (an HTTP error status is an answer too; no answer raises OSError)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass
class WorkerProcess:
    """A running worker and the address of its endpoint."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, str]:
        return http_get(self.base_url + path)

    def wait_for(self, path: str, status: int, timeout_s: float = 90.0) -> dict[str, Any]:
        """Poll ``path`` until it answers ``status``; returns the JSON body."""
        deadline, last = time.monotonic() + timeout_s, "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}: {self.log()}")
            try:
                code, body = self.get(path)
                if code == status:
                    return json.loads(body) if body.startswith("{") else {"body": body}
                last = f"{code} {body}"
            except OSError as error:
                last = str(error)
            time.sleep(0.5)
        raise AssertionError(f"{path} never answered {status}; last: {last}\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)


def start_worker(command: list[str], bootstrap: str, topic_prefix: str, home: Path, *,
                 port: int | None = None, env: dict[str, str] | None = None) -> WorkerProcess:
    """``prismaflow <command>`` on the given broker and topic prefix, its endpoint on 127.0.0.1."""
    port = port or free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PRISMAFLOW_HOME": str(home),
           "PRISMAFLOW_WORKER_TOPIC_PREFIX": topic_prefix, "PRISMAFLOW_WORKER_METRICS_PORT": str(port),
           "PRISMAFLOW_WORKER_METRICS_ADDR": "127.0.0.1", "PRISMAFLOW_WORKER_INSTANCE_ID": topic_prefix + "0",
           "PRISMAFLOW_WORKER_GROUP_PREFIX": topic_prefix + "prismaflow",
           "PRISMAFLOW_POLLER_METRICS_PORT": str(port), "PRISMAFLOW_POLLER_METRICS_ADDR": "127.0.0.1", **(env or {})}
    log_path = home / f"worker-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "streams.cli", *command], cwd=REPO, env=env,
                                   stdout=log_file, stderr=subprocess.STDOUT)
    return WorkerProcess(process, port, log_path)


def start_core_worker(bootstrap: str, topic_prefix: str, home: Path, *, port: int | None = None) -> WorkerProcess:
    """``prismaflow run core`` (the fused stream core)."""
    return start_worker(["run", "core"], bootstrap, topic_prefix, home, port=port)


def start_simulator(module: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m connectors.<system>.simulator`` on a free local port; the process and its base URL."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    with (home / f"{module}.log").open("wb") as log_file:
        process = subprocess.Popen([sys.executable, "-m", module, "--port", str(port)], cwd=REPO,
                                   stdout=log_file, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"
