"""The benchmark's processes: the broker, worker and passthrough children, their RSS and CPU."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from streams.devtools.broker import LocalBroker, wait_for_metadata
from streams.devtools.local_process import log_tail
from streams.errors import BrokerError
from streams.settings import BrokerSettings, KafkaSettings

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
        return log_tail(self.log, lines)

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
def _broker(workdir: Path, kafka: KafkaSettings) -> Iterator[tuple[str, int | None, str]]:
    """Bootstrap servers, broker pid (None when external: ``KAFKA_BOOTSTRAP_SERVERS`` set) and Kafka
    version of the broker to use."""
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


