"""The audit ledger on Kafka: writers append hash-chained records, ``prismaflow audit verify`` checks them.

Every writer (a sink, the analysis stage, the approval service) owns one chain, named for it
(``tickets.jira/0``). Its records are keyed by the chain name, so a chain lives in one partition of
``prisma.audit`` in the order it was written; a partition may hold several chains, each verified on
its own. A restarted writer resumes its chain from the last record it finds on the topic.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Gauge

from processors.audit import AuditChain, VerificationReport, verify_chain
from processors.records import ActorType, AuditRecord
from streams.kafka_clients import KafkaClients
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topic_reader import read_to_end
from streams.topics import AUDIT

__all__ = ["AuditWriter", "ChainReport", "read_chains", "verify_audit"]

log = logging.getLogger(__name__)

CHAIN_LENGTH = Gauge("prismaflow_audit_chain_length", "Records in this writer's audit chain", ["chain"])


def read_chains(kafka: KafkaSettings | KafkaClients, serde: AvroSerde, topic: str = AUDIT.name,
                *, timeout_s: float = 60.0) -> dict[tuple[int, str], list[AuditRecord]]:
    """Every committed audit record, grouped by (partition, chain name), in offset order."""
    chains: dict[tuple[int, str], list[AuditRecord]] = defaultdict(list)
    for message in read_to_end(kafka, topic, timeout_s=timeout_s, purpose="audit"):
        record = serde.decode(message.value() or b"", AuditRecord, topic=topic)
        chains[(int(message.partition() or 0), (message.key() or b"").decode())].append(record)
    return dict(chains)


class AuditWriter:
    """Appends records to one chain; call :meth:`start` once before the first record."""

    def __init__(self, chain: str, kafka: KafkaSettings, serde: AvroSerde, *, topic: str = AUDIT.name,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.chain_name = chain
        self.kafka, self.serde, self.topic, self.clock = kafka, serde, topic, clock
        self._chain = AuditChain(chain, clock=clock)

    def start(self) -> None:
        last: AuditRecord | None = None
        for (_, name), records in read_chains(self.kafka, self.serde, self.topic).items():
            if name == self.chain_name and records:
                last = max(records, key=lambda r: r.sequence)
        self._chain = AuditChain.resume(last, self.chain_name, clock=self.clock)
        log.info("audit chain resumed chain=%s next_sequence=%d", self.chain_name, self._chain.next_sequence)

    def record(self, actor_type: str, actor: str, action: str, *, alert_id: str | None = None,
               incident_id: str | None = None, prompt_version: str | None = None, model: str | None = None,
               input_hash: str | None = None, outcome: str = "ok",
               details: Mapping[str, Any] | None = None) -> OutgoingRecord:
        """The next record of the chain, ready to write to the audit topic."""
        entry = self._chain.append(ActorType(actor_type), actor, action, alert_id=alert_id, incident_id=incident_id,
                                   prompt_version=prompt_version, model=model, input_hash=input_hash,
                                   outcome=outcome, details=details)
        CHAIN_LENGTH.labels(self.chain_name).set(self._chain.next_sequence)
        return OutgoingRecord(self.topic, self.chain_name, entry)


@dataclass(frozen=True)
class ChainReport:
    partition: int
    chain: str
    report: VerificationReport


def verify_audit(kafka: KafkaSettings, serde: AvroSerde, topic: str = AUDIT.name) -> list[ChainReport]:
    """Verify every chain on the audit topic; a report per chain."""
    return [ChainReport(partition, chain, verify_chain(records))
            for (partition, chain), records in sorted(read_chains(kafka, serde, topic).items())]
