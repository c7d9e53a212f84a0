"""Checks a command makes before it starts work: the broker answers, the topics it needs exist.

Without them a process started against a broker that is away printed librdkafka's connection errors
for 30 s and ended in a ``_TIMED_OUT`` traceback, and a stage started before ``prismaflow topics
create`` idled forever after one warning. Here each check fails fast with one line that says what is
wrong and what to run; the CLI prints it and exits non-zero.

The probe's own admin client is silenced (``log_level=0``): a refused connection is the expected
answer when the broker is away, and the one line the probe raises says it better than librdkafka's.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException

from streams.errors import BrokerError
from streams.kafka_clients import KafkaClients
from streams.settings import KafkaSettings

__all__ = ["BrokerUnreachable", "TopicsMissing", "PROBE_TIMEOUT_S", "require_broker", "require_topics"]

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0
"""How long the probe waits for a metadata answer: well under the 10 s an operator should wait for the
verdict, well over a healthy cluster's answer (milliseconds, a TLS handshake included)."""


class BrokerUnreachable(BrokerError):
    """No broker at the configured bootstrap servers answered a metadata request in time."""


class TopicsMissing(BrokerError):
    """Topics a command reads or writes do not exist on the broker."""

    def __init__(self, missing: Iterable[str]) -> None:
        self.missing = tuple(sorted(missing))
        super().__init__(f"topics missing on the broker: {', '.join(self.missing)} — create them with: "
                         "prismaflow topics create (same PRISMAFLOW_WORKER_TOPIC_PREFIX)")


def _clients(kafka: KafkaSettings | KafkaClients) -> KafkaClients:
    return kafka if isinstance(kafka, KafkaClients) else KafkaClients(kafka)


def require_broker(kafka: KafkaSettings | KafkaClients, *, wait_s: float = 0.0,
                   timeout_s: float = PROBE_TIMEOUT_S) -> Any:
    """The cluster metadata (every topic) once a broker answers; probes for ``timeout_s``, again
    every 2 s for ``wait_s`` (``PRISMAFLOW_WORKER_START_WAIT_S``; 0: one probe).

    First a plain TCP connection to each bootstrap address, so a refused port or an unknown host is
    reported at once rather than after librdkafka's retries; then a metadata request, which also
    proves that security settings (TLS, SASL) are accepted. Raises :class:`BrokerUnreachable` naming
    the bootstrap servers, why, and how to start a local broker.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return _probe(_clients(kafka), timeout_s)
        except BrokerUnreachable as exc:
            if time.monotonic() + 2.0 > deadline:
                raise
            log.warning("waiting for the broker wait_s=%.0f: %s", wait_s, exc)
            time.sleep(2.0)


def _probe(clients: KafkaClients, timeout_s: float) -> Any:
    bootstrap = clients.settings.bootstrap_servers
    deadline = time.monotonic() + timeout_s
    reason = _no_listener(bootstrap, deadline)
    if reason is None:
        admin = clients.admin(**{"log_level": 0, "socket.timeout.ms": int(timeout_s * 1000)})
        try:
            return admin.list_topics(timeout=max(0.5, deadline - time.monotonic()))
        except KafkaException as exc:
            reason = f"no metadata answer within {timeout_s:.0f} s ({exc.args[0].name() if exc.args else exc})"
    raise BrokerUnreachable(f"cannot reach Kafka at {bootstrap} (KAFKA_BOOTSTRAP_SERVERS): {reason} — is the broker "
                            "running? start one with: prismaflow broker start")


def _no_listener(bootstrap: str, deadline: float) -> str | None:
    """None when a TCP connection to one of the ``bootstrap`` addresses opens before ``deadline``;
    else why none did (the last address's reason)."""
    reason = "no bootstrap address"
    for address in filter(None, (entry.strip() for entry in bootstrap.split(","))):
        host, _, port = address.rpartition("://")[2].rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=max(0.1, deadline - time.monotonic())):
                return None
        except ValueError:
            reason = f"{address!r} is not host:port"
        except TimeoutError:
            reason = f"no TCP answer within {PROBE_TIMEOUT_S:.0f} s"
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
    return reason


def require_topics(kafka: KafkaSettings | KafkaClients, topics: Iterable[str], *, wait_s: float = 0.0,
                   metadata: Any | None = None) -> None:
    """Return when every one of ``topics`` exists on the broker, waiting up to ``wait_s`` for them
    (and for the broker: ``PRISMAFLOW_WORKER_START_WAIT_S``); else raise :class:`TopicsMissing`.

    ``metadata`` from :func:`require_broker` saves the first request.
    """
    wanted = set(topics)
    deadline = time.monotonic() + wait_s
    logged = False
    while True:
        present = (metadata if metadata is not None else require_broker(
            kafka, wait_s=max(0.0, deadline - time.monotonic()))).topics
        missing = {name for name in wanted if name not in present or present[name].error is not None}
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise TopicsMissing(missing)
        if not logged:
            log.warning("waiting for topics missing=%s wait_s=%.0f", ",".join(sorted(missing)), wait_s)
            logged = True
        metadata = None
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
