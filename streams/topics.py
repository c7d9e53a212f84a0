"""The topic catalogue: every topic Prismaflow reads or writes, with its key, value schema and configs.

``prismaflow topics create`` creates the missing ones and leaves existing ones alone, so it is safe to
run on every deploy. Partition counts bound the parallelism of each stage (see DESIGN.md, Scale).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from streams.errors import BrokerError

__all__ = [
    "TopicSpec",
    "CATALOGUE",
    "RAW_ALERTS",
    "ALERTS",
    "SCORED_ALERTS",
    "ANALYSES",
    "REMEDIATIONS",
    "REMEDIATION_DECISIONS",
    "TICKETS",
    "SIEM_EVENTS",
    "AUDIT",
    "DLQ",
    "SOURCE_CHECKPOINTS",
    "SCORE_CHANGELOG",
    "topic_by_name",
    "create_topics",
    "TopicCreation",
]

log = logging.getLogger(__name__)

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, what its key is, which Avro record it carries, and its configs."""

    name: str
    key: str
    value_schema: str
    doc: str
    partitions: int = 6
    cleanup_policy: str = "delete"
    retention_ms: int = 7 * _DAY_MS
    compression: str = "zstd"
    extra: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        """The topic-level configs given to the broker at creation."""
        configs = {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "compression.type": self.compression,
        }
        configs.update(self.extra)
        return configs


RAW_ALERTS = TopicSpec(
    "prisma.alerts.raw", key="canonical asset id (source alert id when it does not normalise)", value_schema="RawAlert",
    doc="Alerts exactly as the pollers and the webhook receiver got them; also the fused core's own asset-graph "
        "messages (AssetLink, header prismaflow-record: AssetLink), keyed by the asset they are for",
)
ALERTS = TopicSpec(
    "prisma.alerts", key="canonical asset id", value_schema="Alert",
    doc="Normalised and enriched alerts, repartitioned by asset",
)
SCORED_ALERTS = TopicSpec(
    "prisma.alerts.scored", key="canonical asset id", value_schema="ScoredAlert",
    doc="Deduplicated, correlated and scored alerts",
)
ANALYSES = TopicSpec(
    "prisma.analyses", key="canonical asset id", value_schema="Analysis",
    doc="LLM or offline analyses of high-risk alerts and incidents", retention_ms=30 * _DAY_MS,
)
REMEDIATIONS = TopicSpec(
    "prisma.remediations", key="request id", value_schema="RemediationRequest",
    doc="Remediation plans awaiting approval", retention_ms=30 * _DAY_MS,
)
REMEDIATION_DECISIONS = TopicSpec(
    "prisma.remediations.decisions", key="request id", value_schema="RemediationDecision",
    doc="Approvals, rejections and expiries of remediation requests", retention_ms=90 * _DAY_MS,
)
TICKETS = TopicSpec(
    "prisma.tickets", key="fingerprint", value_schema="TicketState",
    doc="Ticket state per fingerprint (compacted): rebuilt by the sinks on start",
    cleanup_policy="compact", retention_ms=-1, extra={"min.cleanable.dirty.ratio": "0.1"},
)
SIEM_EVENTS = TopicSpec(
    "prisma.siem.events", key="alert id", value_schema="SiemEvent",
    doc="Flat events for downstream SIEM consumers",
)
AUDIT = TopicSpec(
    "prisma.audit", key="chain name (one per writer)", value_schema="AuditRecord",
    doc="Append-only, hash-chained audit trail of every AI output and action",
    partitions=3, retention_ms=-1, extra={"min.insync.replicas": "1"},
)
DLQ = TopicSpec(
    "prisma.dlq", key="original key", value_schema="DeadLetter",
    doc="Records a stage could not process, with the reason and the original bytes",
    partitions=3, retention_ms=30 * _DAY_MS,
)
SOURCE_CHECKPOINTS = TopicSpec(
    "prisma.source.checkpoints", key="source name", value_schema="SourceCheckpoint",
    doc="Poller watermarks (compacted): a restarted poller resumes from here",
    partitions=1, cleanup_policy="compact", retention_ms=-1,
    extra={"min.cleanable.dirty.ratio": "0.1"},
)

SCORE_CHANGELOG = TopicSpec(
    "prisma.score.changelog", key="d:<asset id>|<alert id>, a:<asset id>, h, g:<asset id> or m:<asset id>|<member>",
    value_schema="ScoringState",
    doc="State of the scoring stage (compacted), partition by partition like its input "
        "(prisma.alerts.raw for the fused stage, prisma.alerts for the split score stage)",
    partitions=ALERTS.partitions, cleanup_policy="compact", retention_ms=-1,
    extra={"min.cleanable.dirty.ratio": "0.1", "segment.ms": str(3600 * 1000)},
)

CATALOGUE: tuple[TopicSpec, ...] = (
    RAW_ALERTS, ALERTS, SCORED_ALERTS, ANALYSES, REMEDIATIONS, REMEDIATION_DECISIONS,
    TICKETS, SIEM_EVENTS, AUDIT, DLQ, SOURCE_CHECKPOINTS, SCORE_CHANGELOG,
)


def topic_by_name(name: str) -> TopicSpec:
    for spec in CATALOGUE:
        if spec.name == name:
            return spec
    raise KeyError(name)


class _Admin(Protocol):
    def list_topics(self, topic: str | None = ..., timeout: float = ...) -> Any: ...
    def create_topics(self, new_topics: list[Any], **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TopicCreation:
    """What ``create_topics`` did: which topics it created and which already existed."""

    created: tuple[str, ...]
    existing: tuple[str, ...]


def create_topics(
    admin: _Admin,
    specs: tuple[TopicSpec, ...] = CATALOGUE,
    *,
    replication_factor: int = 1,
    prefix: str = "",
    timeout_s: float = 30.0,
) -> TopicCreation:
    """Create every topic in ``specs`` that does not exist yet; existing topics are left unchanged.

    ``prefix`` lets tests and side-by-side deployments use their own copy of the catalogue.
    Raises BrokerError when the broker refuses a creation for any reason other than "exists".
    """
    metadata = admin.list_topics(timeout=timeout_s)
    present = set(getattr(metadata, "topics", {}))
    wanted = {prefix + spec.name: spec for spec in specs}
    missing = [name for name in wanted if name not in present]
    new_topics: list[Any] = [
        NewTopic(name, num_partitions=wanted[name].partitions,
                 replication_factor=replication_factor, config=wanted[name].configs())
        for name in missing
    ]
    created: list[str] = []
    existing = [name for name in wanted if name in present]
    if new_topics:
        futures = admin.create_topics(new_topics, operation_timeout=timeout_s, request_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result()
                created.append(name)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    existing.append(name)
                    continue
                raise BrokerError(f"could not create topic {name}: {exc}") from exc
    if created:
        _wait_for_leaders(admin, created, timeout_s)
    log.info("topics ensured created=%d existing=%d", len(created), len(existing))
    return TopicCreation(tuple(sorted(created)), tuple(sorted(existing)))


def _wait_for_leaders(admin: _Admin, names: list[str], timeout_s: float) -> None:
    """Return once every partition of ``names`` has a leader: a new topic is not usable before."""
    deadline = time.monotonic() + timeout_s
    pending = set(names)
    while pending and time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=timeout_s)
        for name in list(pending):
            topic = getattr(metadata, "topics", {}).get(name)
            if topic is not None and topic.error is None and topic.partitions and all(
                    p.leader >= 0 for p in topic.partitions.values()):
                pending.discard(name)
        if pending:
            time.sleep(0.1)
    if pending:
        raise BrokerError(f"topics without a leader after {timeout_s:.0f}s: {sorted(pending)}")
