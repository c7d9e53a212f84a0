"""The audit ledger on Kafka: writers append hash-chained, signed records, ``prismaflow audit verify`` checks them.

Every writer (a sink, the analysis stage, the approval service) owns one chain, named for it
(``tickets.jira/0``). Its records are keyed by the chain name, so a chain lives in one partition of
``prisma.audit`` in the order it was written; a partition may hold several chains, each verified on
its own. A restarted writer resumes its chain from the last record it finds on the topic.

Every record is signed with the writer's key (:mod:`processors.audit.signing`): an :class:`AuditWriter`
cannot be built without an :class:`~processors.audit.AuditSigner`, and :func:`verify_audit` checks each
record against a keyring of the accepted public keys, so rebuilding a chain with plain SHA-256 after
changing a record, which anyone able to write the topic could do, fails verification.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import Gauge

from processors.audit import AuditChain, AuditKeyring, AuditSigner, VerificationReport, verify_chain
from processors.records import ActorType, AuditRecord
from streams.kafka_clients import KafkaClients
from streams.publish import OutgoingRecord
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topic_reader import read_to_end
from streams.topics import AUDIT

__all__ = ["AuditWriter", "ChainReport", "local_signing_key", "read_chain_entries", "read_chains", "verify_audit",
           "write_signing_key"]

log = logging.getLogger(__name__)

CHAIN_LENGTH = Gauge("prismaflow_audit_chain_length", "Records in this writer's audit chain", ["chain"])


def read_chain_entries(kafka: KafkaSettings | KafkaClients, serde: AvroSerde, topic: str = AUDIT.name,
                       *, timeout_s: float = 60.0) -> dict[tuple[int, str], list[tuple[int, AuditRecord]]]:
    """Every committed audit record with its offset, grouped by (partition, chain name), in offset order."""
    chains: dict[tuple[int, str], list[tuple[int, AuditRecord]]] = defaultdict(list)
    for message in read_to_end(kafka, topic, timeout_s=timeout_s, purpose="audit"):
        record = serde.decode(message.value() or b"", AuditRecord, topic=topic)
        chains[(int(message.partition() or 0), (message.key() or b"").decode())].append(
            (int(message.offset() or 0), record))
    return dict(chains)


def read_chains(kafka: KafkaSettings | KafkaClients, serde: AvroSerde, topic: str = AUDIT.name,
                *, timeout_s: float = 60.0) -> dict[tuple[int, str], list[AuditRecord]]:
    """Every committed audit record, grouped by (partition, chain name), in offset order."""
    return {chain: [record for _, record in entries]
            for chain, entries in read_chain_entries(kafka, serde, topic, timeout_s=timeout_s).items()}


class AuditWriter:
    """Appends signed records to one chain; call :meth:`start` once before the first record."""

    def __init__(self, chain: str, kafka: KafkaSettings, serde: AvroSerde, *, signer: AuditSigner,
                 topic: str = AUDIT.name, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.chain_name = chain
        self.kafka, self.serde, self.topic, self.clock, self.signer = kafka, serde, topic, clock, signer
        self._chain = AuditChain(chain, clock=clock, signer=signer)

    def start(self) -> None:
        last: AuditRecord | None = None
        for (_, name), records in read_chains(self.kafka, self.serde, self.topic).items():
            if name == self.chain_name and records:
                last = max(records, key=lambda r: r.sequence)
        self._chain = AuditChain.resume(last, self.chain_name, clock=self.clock, signer=self.signer)
        log.info("audit chain resumed chain=%s next_sequence=%d key_id=%s", self.chain_name,
                 self._chain.next_sequence, self.signer.key_id)

    def discard_unwritten(self) -> None:
        """Forget the records made since the last one on the topic (their transaction was aborted or
        their batch dropped): the chain goes on from the last committed record, without a gap."""
        self.start()

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


def verify_audit(kafka: KafkaSettings, serde: AvroSerde, topic: str = AUDIT.name, *,
                 keyring: AuditKeyring) -> list[ChainReport]:
    """Verify every chain on the audit topic, signatures by ``keyring``'s keys included; a report per
    chain, whose problems name each bad record's offset and key id."""
    reports = []
    for (partition, chain), entries in sorted(read_chain_entries(kafka, serde, topic).items()):
        offsets = [offset for offset, _ in entries]
        report = verify_chain([record for _, record in entries], keyring=keyring, offsets=offsets)
        reports.append(ChainReport(partition, chain, report))
    return reports


def write_signing_key(signer: AuditSigner, path: Path) -> None:
    """Write ``signer``'s secret to a new file ``path`` readable by its owner only (``FileExistsError``
    when it exists: a key is never overwritten, records signed with it would stop verifying)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(signer.secret_text() + "\n")


def local_signing_key(path: Path, key_id: str = "local") -> tuple[AuditSigner, bool]:
    """The signing key in ``path``, generated there at first use; and whether it was just generated.

    For local runs only (the demo): production keys come from the settings' secrets folder.
    """
    if path.is_file():
        return AuditSigner.from_secret(path.read_text(encoding="utf-8")), False
    signer = AuditSigner.generate(key_id)
    write_signing_key(signer, path)
    return signer, True
