"""A local, Confluent-compatible Schema Registry for development and tests, without Docker.

The registry is Apicurio Registry, which serves the Confluent Schema Registry REST API under
``/apis/ccompat/v7`` (and ``/v6``), so ``confluent_kafka.schema_registry.SchemaRegistryClient``
talks to it unchanged. Maven Central publishes Apicurio only as a library jar, so
:meth:`LocalSchemaRegistry.ensure_installed` runs the Quarkus build over it with Maven
(``deploy/registry/pom.xml``) and caches the runnable result under the state directory.

Storage is in memory (H2): every start begins with an empty registry.

Files (``install_dir`` defaults to ``<state_dir>/build``; several state dirs may share one)::

    <install_dir>/registry-runner.jar       the runnable application (with <install_dir>/lib/)
    <install_dir>/prismaflow.stamp          hash of the pom that produced the build
    <install_dir>/maven.log                 Maven's output from the last install
    <state_dir>/registry.pid                pid of the running registry
    <state_dir>/registry.log                the registry's console output

Differences from Confluent Schema Registry worth knowing:

* the launcher sets the global compatibility rule to ``BACKWARD`` (Confluent's default), but
  ``GET /config`` still answers ``NONE``; per-subject ``PUT /config/<subject>`` works as in
  Confluent;
* schema ids are Apicurio's global ids, starting at 1 in every fresh registry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from processors.errors import ConfigurationError
from streams.devtools.local_process import cmdline, find_maven, log_tail, pid_alive, port_open, signal_group
from streams.errors import BrokerError

__all__ = [
    "APICURIO_VERSION",
    "DEFAULT_PORT",
    "LocalRegistryError",
    "LocalSchemaRegistry",
    "RegistryStatus",
]

#: The Apicurio Registry release that ``deploy/registry/pom.xml`` builds.
APICURIO_VERSION: Final = "2.4.2.Final"
#: Confluent Schema Registry's customary port.
DEFAULT_PORT: Final = 8081

_CCOMPAT_PATH: Final = "/apis/ccompat/v7"
_PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
_POM: Final = _PROJECT_ROOT / "deploy" / "registry" / "pom.xml"
_RUNNER_JAR: Final = "registry-runner.jar"
_LOG_TAIL_LINES: Final = 40
_DEFAULT_JVM_OPTIONS: Final = (
    # Small, fast-starting JVM: the registry holds a handful of schemas in tests.
    "-XX:+UseSerialGC",
    "-Xms64m",
    "-Xmx384m",
    "-XX:TieredStopAtLevel=1",
)


class LocalRegistryError(BrokerError):
    """The local schema registry could not be installed, started, reached, or stopped.

    A :class:`~processors.errors.BrokerError`: the registry is part of the local Kafka
    infrastructure, and callers that already handle a broker that will not start handle this too.
    """


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """What :meth:`LocalSchemaRegistry.status` found.

    Attributes:
        running: a registry answers on the port (ours or anyone's).
        pid: the pid of the registry this launcher started, if that process is alive.
        url: the Confluent-compatible base URL to give ``SchemaRegistryClient``.
        log_path: where the registry started by this launcher writes its console output.
    """

    running: bool
    pid: int | None
    url: str
    log_path: Path


class LocalSchemaRegistry:
    """Installs, starts, and stops an in-memory Apicurio Registry on ``127.0.0.1:<port>``.

    The process is started in its own session, so it outlives the Python process that started
    it (``prismaflow registry start`` then exits); any later launcher with the same state
    directory can stop it through the pid file.
    """

    def __init__(
        self,
        state_dir: Path,
        port: int = DEFAULT_PORT,
        *,
        host: str = "127.0.0.1",
        install_dir: Path | None = None,
        jvm_options: Sequence[str] = _DEFAULT_JVM_OPTIONS,
        pom: Path = _POM,
    ) -> None:
        """Describe a registry; nothing is installed or started yet.

        Args:
            state_dir: folder for the build, the pid file and the logs; created when needed.
            port: HTTP port to listen on.
            host: interface to bind; keep the loopback default outside of containers.
            install_dir: where Maven puts the runnable registry; defaults to
                ``state_dir / "build"``. Share one between state dirs to build only once.
            jvm_options: options for the registry's JVM (heap, GC).
            pom: the Maven project that builds the registry.
        """
        # Absolute: the registry runs with the state dir as its working directory.
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.host = host
        self.install_dir = (
            Path(install_dir).resolve() if install_dir is not None else self.state_dir / "build"
        )
        self.jvm_options = tuple(jvm_options)
        self.pom = pom
        self._process: subprocess.Popen[bytes] | None = None

    # -- paths and addresses ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The Confluent-compatible API root, for ``SchemaRegistryClient({"url": ...})``."""
        return f"http://{self.host}:{self.port}{_CCOMPAT_PATH}"

    @property
    def runner_jar(self) -> Path:
        """The runnable jar produced by :meth:`ensure_installed`."""
        return self.install_dir / _RUNNER_JAR

    @property
    def pid_file(self) -> Path:
        """Holds the pid of the registry this launcher started."""
        return self.state_dir / "registry.pid"

    @property
    def log_path(self) -> Path:
        """The registry's console output."""
        return self.state_dir / "registry.log"

    @property
    def install_log_path(self) -> Path:
        """Maven's output from the last install."""
        return self.install_dir / "maven.log"

    @property
    def _stamp_path(self) -> Path:
        return self.install_dir / "prismaflow.stamp"

    @property
    def _marker(self) -> str:
        # On the java command line, so that a pid read from the pid file is recognised as ours
        # and not as an unrelated process that reused the pid.
        return f"-Dprismaflow.registry.state={self.state_dir}"

    # -- install ------------------------------------------------------------------------------

    def ensure_installed(self) -> Path:
        """Build the registry with Maven unless the cached build matches the current pom.

        Returns:
            The runnable jar.

        Raises:
            ConfigurationError: ``java`` or ``mvn`` is not installed.
            LocalRegistryError: the Maven build failed (the message ends with its output).
        """
        java = self._java()
        mvn = find_maven("to build the local schema registry")
        stamp = self._pom_digest()
        if self.runner_jar.is_file() and self._read_stamp() == stamp:
            return self.runner_jar

        self.install_dir.mkdir(parents=True, exist_ok=True)
        command = [
            mvn,
            "--batch-mode",
            "--no-transfer-progress",
            "--file",
            str(self.pom),
            f"-Dregistry.build.dir={self.install_dir}",
            "package",
        ]
        env = dict(os.environ)
        java_home = Path(java).resolve().parent.parent
        env.setdefault("JAVA_HOME", str(java_home))
        with self.install_log_path.open("wb") as log:
            result = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False
            )
        if result.returncode != 0 or not self.runner_jar.is_file():
            raise LocalRegistryError(
                f"building the local schema registry failed (mvn exit status "
                f"{result.returncode}); full output in {self.install_log_path}:\n"
                + log_tail(self.install_log_path, _LOG_TAIL_LINES)
            )
        self._stamp_path.write_text(stamp + "\n", encoding="utf-8")
        return self.runner_jar

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").is_file():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise ConfigurationError(
                "Java ('java') is not on PATH and JAVA_HOME is not set; the local schema registry "
                "needs a Java 17+ runtime. Install one (Debian/Ubuntu: "
                "apt-get install openjdk-17-jdk-headless)."
            )
        return java

    def _pom_digest(self) -> str:
        try:
            return hashlib.sha256(self.pom.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigurationError(f"the registry's Maven project {self.pom} is missing") from exc

    def _read_stamp(self) -> str | None:
        try:
            return self._stamp_path.read_text(encoding="utf-8").strip()
        except OSError:
            return None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the registry and wait until its API answers; do nothing if one already answers.

        Args:
            timeout_s: how long to wait for the API, not counting a first-time install.

        Raises:
            ConfigurationError: ``java`` or ``mvn`` is not installed.
            LocalRegistryError: the port is taken by something else, or the registry exited or
                did not answer within ``timeout_s`` (the message ends with its log).
        """
        if self._answers():
            return
        runner = self.ensure_installed()
        if port_open(self.host, self.port):
            raise LocalRegistryError(
                f"port {self.port} on {self.host} is in use by something that is not a schema "
                f"registry (no answer from {self.url}/subjects); choose another port"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            self._java(),
            *self.jvm_options,
            self._marker,
            f"-Dquarkus.http.host={self.host}",
            f"-Dquarkus.http.port={self.port}",
            # Confluent's default; Apicurio's is no rule at all.
            "-Dregistry.rules.global.compatibility=BACKWARD",
            "-jar",
            str(runner),
        ]
        with self.log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=True,
            )
        self._process = process
        self.pid_file.write_text(f"{process.pid}\n", encoding="utf-8")

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._forget_pid()
                self._process = None
                raise LocalRegistryError(
                    f"the local schema registry exited with status {process.returncode} during "
                    f"start-up; log {self.log_path}:\n" + log_tail(self.log_path, _LOG_TAIL_LINES)
                )
            if self._answers():
                return
            time.sleep(0.2)
        self.stop()
        raise LocalRegistryError(
            f"the local schema registry did not answer on {self.url} within {timeout_s:g} s; "
            f"log {self.log_path}:\n" + log_tail(self.log_path, _LOG_TAIL_LINES)
        )

    def stop(self, grace_s: float = 15.0) -> None:
        """Stop the registry this launcher (or an earlier one on this state dir) started.

        Sends SIGTERM to its process group, waits up to ``grace_s``, then SIGKILL. Does nothing
        when no registry of ours is running; never touches a registry started elsewhere.

        Raises:
            LocalRegistryError: the process survived SIGKILL.
        """
        pid = self._running_pid()
        if pid is None:
            self._forget_pid()
            self._reap()
            return
        signal_group(pid, signal.SIGTERM)
        if not self._wait_gone(pid, grace_s):
            signal_group(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 10.0):
                raise LocalRegistryError(
                    f"the local schema registry (pid {pid}) survived SIGKILL"
                )
        self._forget_pid()

    def status(self) -> RegistryStatus:
        """Report whether a registry answers on the port and whether ours is alive."""
        return RegistryStatus(
            running=self._answers(),
            pid=self._running_pid(),
            url=self.url,
            log_path=self.log_path,
        )

    # -- helpers ------------------------------------------------------------------------------

    def _answers(self) -> bool:
        """True when ``GET <url>/subjects`` returns a JSON list."""
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=2.0) as response:
                if response.status != 200:
                    return False
                return isinstance(json.loads(response.read()), list)
        except (OSError, ValueError):
            return False

    def _running_pid(self) -> int | None:
        """The pid from the pid file, if that process is alive and is our registry."""
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid):
            return None
        command = cmdline(pid)
        if command is not None and self._marker not in command:
            return None  # the pid was reused by an unrelated process
        return pid

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._reap()
            if not pid_alive(pid):
                self._collect(pid)
                return True
            time.sleep(0.1)
        self._reap()
        gone = not pid_alive(pid)
        if gone:
            self._collect(pid)
        return gone

    def _collect(self, pid: int) -> None:
        """Wait for our child's exit status: it may have turned zombie just after the last poll."""
        if self._process is not None and self._process.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._process = None

    def _reap(self) -> None:
        """Collect our child's exit status, if we started it, so it leaves no zombie."""
        if self._process is not None and self._process.poll() is not None:
            self._process = None

    def _forget_pid(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
