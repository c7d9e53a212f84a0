"""The pipeline the fault campaign attacks: a broker of its own, simulators, and every process kind.

Everything runs for real: a local Kafka broker in a temporary folder (stopped and started again for
the outage), the Jira simulator served over HTTP (taken down for the sink outage), and each
Prismaflow process as its own operating-system process, started with the same command a deployment
uses (``python -m streams.cli run core`` ...). :class:`Supervised` starts, kills and restarts them,
and notices when one exits on its own — which the campaign reports as "did not recover without
help".
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.jira.simulator import JiraSimulator, SimConfig as JiraSimConfig
from streams.audit import local_signing_key
from streams.devtools.broker import LocalBroker
from streams.embedded import ServedApp, free_port
from streams.kafka_clients import KafkaClients
from streams.settings import BrokerSettings, KafkaSettings
from streams.topics import CATALOGUE, create_topics

__all__ = ["Supervised", "ChaosStack", "PROCESS_COMMANDS", "WEBHOOK_TOKEN"]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
WEBHOOK_TOKEN = "Bearer chaos-webhook-token"

#: Every long-running process kind, as a deployment starts it.
PROCESS_COMMANDS: Mapping[str, Sequence[str]] = {
    "core": ("run", "core"),
    "analyse": ("run", "analyse"),
    "jira": ("sink", "jira"),
    "siem": ("sink", "siem"),
    "webhook": ("webhook",),
    "poll": ("poll",),
}


@dataclass
class Supervised:
    """One Prismaflow process: started, killed and restarted by the campaign, never by itself."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    unexpected_exits: list[int] = field(default_factory=list)
    starts: int = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "streams.cli", *self.argv], cwd=REPO,
                                         env=dict(self.env), stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1

    def check(self) -> bool:
        """True while it runs; an exit nobody asked for is recorded once."""
        if self.proc is None:
            return False
        status = self.proc.poll()
        if status is None:
            return True
        if not getattr(self.proc, "_expected_exit", False):
            self.unexpected_exits.append(status)
            self.proc._expected_exit = True  # type: ignore[attr-defined]
        return False

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc._expected_exit = True  # type: ignore[attr-defined]
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout_s: float = 30.0) -> tuple[int | None, float]:
        """SIGTERM; the exit status and how long it took (None: still running after ``timeout_s``)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        self.proc._expected_exit = True  # type: ignore[attr-defined]
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            status: int | None = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            status = None
            self.proc.kill()
            self.proc.wait(10)
        return status, time.monotonic() - started


class ChaosStack:
    """A broker, the Jira (and, with ``poll``, Prisma Cloud) simulator and the chosen processes."""

    def __init__(self, home: Path, processes: Sequence[str]) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.broker = LocalBroker(BrokerSettings(home=home / "broker", port=free_port(), controller_port=free_port()))
        self.kafka = KafkaSettings(bootstrap_servers=self.broker.bootstrap_servers)
        self.jira_port = free_port()
        self.webhook_port = free_port()
        self.prisma_port = free_port()
        self.jira_sim: Any = None
        self._jira_app: ServedApp | None = None
        self._prisma_sim: subprocess.Popen[bytes] | None = None
        self.names = list(processes)
        self.processes: dict[str, Supervised] = {}

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}"

    def _env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMAFLOW_", "KAFKA_", "SCHEMA_REGISTRY_"))}
        env.update({
            "PRISMAFLOW_HOME": str(self.home / "state"),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "PRISMAFLOW_WORKER_INSTANCE_ID": "0",
            "PRISMAFLOW_WORKER_MAX_BATCH": "200",
            # As the Helm chart runs them: a process started while the broker is away waits for it
            # (a fault may begin before a slow process finished starting).
            "PRISMAFLOW_WORKER_START_WAIT_S": "300",
            "PRISMAFLOW_JIRA_BASE_URL": f"http://127.0.0.1:{self.jira_port}",
            "PRISMAFLOW_WEBHOOK_PORT": str(self.webhook_port),
            "PRISMAFLOW_WEBHOOK_AUTH_TOKEN": WEBHOOK_TOKEN,
            "PRISMAFLOW_PRISMA_API_URL": f"http://127.0.0.1:{self.prisma_port}",
            "PRISMAFLOW_PRISMA_COMPUTE_URL": f"http://127.0.0.1:{self.prisma_port}",
            "PRISMAFLOW_POLLER_INTERVAL_S": "5",
            "PRISMAFLOW_POLLER_INITIAL_LOOK_BACK_S": str(60 * 86400),
            # The ticket and analysis processes sign their audit records: a local key (see start()).
            "PRISMAFLOW_SECRETS_DIR": str(self.home / "secrets"),
            # Without an analysis stage in the stack no analysis comes: tickets must not wait for one.
            "PRISMAFLOW_TICKETS_ANALYSIS_WAIT_S": "60" if "analyse" in self.names else "0",
        })
        return env

    def start(self) -> None:
        local_signing_key(self.home / "secrets" / "prismaflow_audit_signing_key", key_id="chaos_local")
        self.broker.start()
        create_topics(KafkaClients(self.kafka).admin(), CATALOGUE)
        self.jira_sim = JiraSimulator(config=JiraSimConfig(base_url=f"http://127.0.0.1:{self.jira_port}",
                                                           rate_limits=False))
        self.start_jira()
        if "poll" in self.names:
            with open(self.home / "prisma-simulator.log", "ab") as out:
                self._prisma_sim = subprocess.Popen(
                    [sys.executable, "-m", "connectors.prisma.simulator", "--port", str(self.prisma_port),
                     "--alerts", "300", "--tick-s", "100000", "--no-rate-limits"],
                    cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        for name in self.names:
            self.processes[name] = Supervised(name, PROCESS_COMMANDS[name], self._env(name),
                                              self.home / f"{name}.log")
            self.processes[name].start()

    def start_jira(self) -> None:
        self._jira_app = ServedApp(self.jira_sim.app, self.jira_port)

    def stop_jira(self) -> None:
        if self._jira_app is not None:
            self._jira_app.stop()
            self._jira_app = None

    def check(self) -> dict[str, bool]:
        """Which processes run now (and record the ones that exited on their own)."""
        return {name: p.check() for name, p in self.processes.items()}

    def stop(self) -> dict[str, tuple[int | None, float]]:
        """SIGTERM every process (their status and time to exit), then the simulators and the broker."""
        ended = {name: p.terminate() for name, p in self.processes.items()}
        self.stop_jira()
        if self._prisma_sim is not None:
            self._prisma_sim.terminate()
            self._prisma_sim.wait(15)
        self.broker.stop()
        return ended

    def webhook_secret(self) -> SecretStr:
        return SecretStr(WEBHOOK_TOKEN)
