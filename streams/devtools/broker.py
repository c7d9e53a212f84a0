"""The local Apache Kafka broker: a real Kafka 4 broker in KRaft mode, run from Maven Central's jars.

``prismaflow broker start`` resolves ``org.apache.kafka:kafka_2.13`` and its runtime dependencies
with Maven (``deploy/broker/pom.xml``), caches the jars, formats the storage on first start, and runs
one combined broker+controller in the background until ``prismaflow broker stop``.

Failures are :class:`BrokerError` (the broker would not start or stop; the message carries the tail
of its log) or :class:`ConfigurationError` (Java 17 or Maven missing; the message names what to
install).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from processors.errors import ConfigurationError
from streams.devtools.broker_security import (
    TlsMaterial,
    ensure_tls_material,
    jvm_options,
    listener_properties,
    open_secure_listeners,
)
from streams.devtools.java import find_java
from streams.devtools.local_process import find_maven, log_tail, pid_alive, port_open, signal_group
from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.operator.progress import progress_bar
from streams.settings import BrokerSettings, KafkaSettings

__all__ = ["LocalBroker", "BrokerStatus", "find_java", "wait_for_metadata"]

log = logging.getLogger(__name__)

BROKER_POM = Path(__file__).resolve().parents[2] / "deploy" / "broker" / "pom.xml"
_STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class BrokerStatus:
    """What ``prismaflow broker status`` reports."""

    running: bool
    pid: int | None
    bootstrap_servers: str
    home: Path
    secure_listeners: str = ""  # "ssl=host:port sasl_ssl=host:port tls=<folder>" when they are on

    def describe(self) -> str:
        if self.running:
            secure = f" {self.secure_listeners}" if self.secure_listeners else ""
            return f"broker running pid={self.pid} bootstrap={self.bootstrap_servers}{secure} home={self.home}"
        return f"broker stopped home={self.home}"


def wait_for_metadata(bootstrap_servers: str, timeout_s: float) -> None:
    """Block until a broker at ``bootstrap_servers`` answers a metadata request.

    Raises BrokerError when none answers within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    while not port_open(host, int(port)):
        if time.monotonic() > deadline:
            raise BrokerError(f"no broker listens at {bootstrap_servers} after {timeout_s:.0f}s")
        time.sleep(0.2)
    admin = KafkaClients(KafkaSettings(bootstrap_servers=bootstrap_servers)).admin(log_level=0)
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=min(5.0, max(0.5, deadline - time.monotonic())))
            if metadata.brokers:
                return
        except KafkaException as exc:
            last_error = exc
        time.sleep(0.2)
    raise BrokerError(
        f"broker at {bootstrap_servers} did not answer metadata requests within {timeout_s:.0f}s"
        + (f": {last_error}" if last_error else "")
    )


class LocalBroker:
    """One local Kafka broker+controller (KRaft), its jar cache, storage, pid file and log.

    Safe to call :meth:`start` when it already runs and :meth:`stop` when it does not.
    """

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.home = settings.home
        self.data_dir = self.home / "data"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.config_file = self.home / "server.properties"
        self.jar_dir = settings.jar_cache / f"kafka-{settings.kafka_version}"
        self.tls = TlsMaterial(self.home / "tls")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.bootstrap_servers

    # -- installation -------------------------------------------------------------------------
    def ensure_installed(self) -> Path:
        """Resolve the Kafka jars into the cache once; return the folder holding them."""
        marker = self.jar_dir / ".complete"
        if marker.exists():
            return self.jar_dir
        find_java()
        mvn = find_maven("once to download the Kafka broker jars",
                         " or point KAFKA_BOOTSTRAP_SERVERS at an existing broker")
        pom = BROKER_POM
        staging = self.jar_dir.with_name(self.jar_dir.name + f".tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        log.info("resolving Kafka %s jars from Maven Central into %s", self.settings.kafka_version, self.jar_dir)
        print(f"prismaflow: downloading Apache Kafka {self.settings.kafka_version} jars (first run only)...",
              file=sys.stderr, flush=True)
        cmd = [
            mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            f"-Dkafka.version={self.settings.kafka_version}",
            f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ]
        returncode, output = _run_counting_jars(cmd, staging)
        if returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            raise BrokerError(f"Maven could not resolve the Kafka jars (exit {returncode}):\n{output[-2000:]}")
        (staging / ".complete").write_text(self.settings.kafka_version + "\n")
        shutil.rmtree(self.jar_dir, ignore_errors=True)
        staging.rename(self.jar_dir)
        return self.jar_dir

    # -- lifecycle ----------------------------------------------------------------------------
    def status(self) -> BrokerStatus:
        pid = self._read_pid()
        running = pid is not None and pid_alive(pid)
        s = self.settings
        secure = (f"ssl={s.host}:{s.ssl_port} sasl_ssl={s.host}:{s.sasl_ssl_port} tls={self.tls.folder}"
                  if s.secure_listeners else "")
        return BrokerStatus(running, pid if running else None, self.bootstrap_servers, self.home, secure)

    def start(self) -> BrokerStatus:
        """Start the broker unless it already runs; return once it answers metadata requests."""
        current = self.status()
        if current.running:
            wait_for_metadata(self.bootstrap_servers, self.settings.start_timeout_s)
            log.info("broker already running pid=%s", current.pid)
            return current
        secure = self.settings.secure_listeners
        ports = (self.settings.port, self.settings.controller_port,
                 *((self.settings.ssl_port, self.settings.sasl_ssl_port) if secure else ()))
        for port in ports:
            if port_open(self.settings.host, port):
                raise BrokerError(
                    f"port {self.settings.host}:{port} is taken by another process; stop it, or set "
                    "PRISMAFLOW_BROKER_PORT / PRISMAFLOW_BROKER_CONTROLLER_PORT"
                    + (" / PRISMAFLOW_BROKER_SSL_PORT / PRISMAFLOW_BROKER_SASL_SSL_PORT" if secure else "")
                    + ", or point KAFKA_BOOTSTRAP_SERVERS at that broker"
                )
        java = find_java()
        jars = self.ensure_installed()
        self.home.mkdir(parents=True, exist_ok=True)
        if secure:
            ensure_tls_material(self.tls.folder, self.settings.host)
        self._write_config()
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(java, jars)
        log4j = self.home / "log4j2.properties"
        log4j.write_text(_LOG4J2)
        cmd = [
            java, f"-Xmx{self.settings.heap}", f"-Xms{min_heap(self.settings.heap)}",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            *self.settings.jvm_options.split(), *(jvm_options(self.tls) if secure else ()),
            f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={self.home}",
            "-cp", f"{jars}/*", "kafka.Kafka", str(self.config_file),
        ]
        with open(self.log_file, "ab") as log_out:
            proc = subprocess.Popen(
                cmd, stdout=log_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self.home,
            )
        self._process = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        try:
            self._wait_until_ready(proc)
            if secure:
                open_secure_listeners(self.settings, self.tls, self.settings.start_timeout_s)
        except BrokerError:
            self._terminate(proc.pid)
            raise
        log.info("broker started pid=%s bootstrap=%s", proc.pid, self.bootstrap_servers)
        return self.status()

    def stop(self) -> bool:
        """Stop the broker; return False when it was not running. Leaves no Java process behind."""
        pid = self._read_pid()
        if pid is None or not pid_alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        self._terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        log.info("broker stopped pid=%s", pid)
        return True

    # -- internals ----------------------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _terminate(self, pid: int) -> None:
        if not signal_group(pid, signal.SIGTERM):
            return
        deadline = time.monotonic() + _STOP_GRACE_S
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                break
            _reap(pid)
            time.sleep(0.1)
        else:
            log.warning("broker did not stop within %.0fs, killing pid=%s", _STOP_GRACE_S, pid)
            signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if self._process is not None and self._process.pid == pid:
            self._process.wait(timeout=5)  # started by this object: collect its exit status
            self._process = None
        else:
            _reap(pid)

    def _wait_until_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while not port_open(self.settings.host, self.settings.port):
            if proc.poll() is not None:
                raise BrokerError(f"the broker exited with code {proc.returncode}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"the broker did not listen on {self.bootstrap_servers} within "
                    f"{self.settings.start_timeout_s:.0f}s:\n{self._log_tail()}"
                )
            time.sleep(0.2)
        try:
            wait_for_metadata(self.bootstrap_servers, max(1.0, deadline - time.monotonic()))
        except BrokerError as exc:
            raise BrokerError(f"{exc}\n{self._log_tail()}") from exc

    def _log_tail(self) -> str:
        return log_tail(self.log_file, missing="(no broker log)")

    def _write_config(self) -> None:
        s = self.settings
        listeners = {
            "listeners": f"PLAINTEXT://{s.host}:{s.port},CONTROLLER://{s.host}:{s.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{s.host}:{s.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        }
        if s.secure_listeners:
            listeners = listener_properties(s, self.tls)
        self.config_file.write_text(
            "\n".join([
                "# Written by prismaflow broker start; edits are overwritten.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{s.host}:{s.controller_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                *(f"{key}={value}" for key, value in listeners.items()),
                f"log.dirs={self.data_dir}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=6",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "log.retention.hours=168",
                "log.segment.bytes=67108864",
                *self._extra_properties(),
                "",
            ])
        )

    def _extra_properties(self) -> list[str]:
        """PRISMAFLOW_BROKER_PROPERTIES as server.properties lines; a malformed entry is an error."""
        lines = []
        for item in filter(None, (part.strip() for part in self.settings.properties.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigurationError(
                    f"PRISMAFLOW_BROKER_PROPERTIES: {item!r} is not key=value (entries are separated by commas)")
            lines.append(f"{key.strip()}={value.strip()}")
        return lines

    def _format_storage(self, java: str, jars: Path) -> None:
        cluster_id = _kafka_uuid()
        cmd = [java, "-Xmx256m", "-cp", f"{jars}/*", "kafka.tools.StorageTool", "format",
               "-t", cluster_id, "-c", str(self.config_file)]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=self.home)
        if result.returncode != 0:
            raise BrokerError(f"formatting the broker storage failed:\n{(result.stdout + result.stderr)[-2000:]}")


def _run_counting_jars(cmd: list[str], staging: Path) -> tuple[int, str]:
    """Run Maven, showing the jars it has copied so far (a progress bar on a terminal); its exit code
    and output."""
    with tempfile.TemporaryFile() as output, progress_bar("Kafka jars from Maven Central") as advance:
        proc = subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        counted = 0
        while proc.poll() is None or counted < len(list(staging.glob("*.jar"))):
            jars = len(list(staging.glob("*.jar")))
            advance(jars - counted)
            counted = jars
            if proc.poll() is None:
                time.sleep(0.5)
        output.seek(0)
        return int(proc.returncode), output.read().decode("utf-8", "replace")


def _reap(pid: int) -> None:
    """Collect an exited child so it does not linger as a zombie (only when it is our child)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _kafka_uuid() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding, as StorageTool makes.

    One that starts with '-' would be read as an option by StorageTool's argument parser.
    """
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def min_heap(heap: str) -> str:
    """Start with a quarter of the maximum heap (at least 128m) so a small machine is not crowded."""
    match = re.fullmatch(r"(\d+)([mMgG])", heap)
    if not match:
        return heap
    megabytes = int(match.group(1)) * (1024 if match.group(2) in "gG" else 1)
    return f"{max(128, megabytes // 4)}m"


_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
"""
