"""``prismaflow dlq redrive``: dead letters back onto their original topic, once, audited, and only
when the cause is gone.

Re-check. A dead letter is published again only if its original bytes now pass what the consuming
stage would apply first: for ``prisma.alerts.raw``, Avro decoding and the core stage's normalisation
(:func:`processors.normalise.normalise_with_data`, the function that refused malformed ids); for any
other catalogue topic, decoding by the topic's schema. A record that still fails is refused with the
reason; one from a pseudo-topic (``webhook:/path``, refused at the edge) cannot be redriven at all.

Exactly once. Every redrive writes, in the same Kafka transaction as the re-published record, an
audit record (action ``dlq_redriven``, details: DLQ topic and dead-letter id) on the audit topic's
chain ``operator.dlq-redrive``. That audit record is the redrive marker: before publishing, the
command reads the chain back and skips every dead letter it already names. The audit topic is
append-only with infinite retention, so the marker lives as long as the audit trail, and the
operator gets the trail of who redrove what for free. Concurrent redrives cannot both publish: they
share one ``transactional.id``, the later one fences the earlier, whose commit then fails.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from processors.audit import AuditSigner
from processors.models import RawAlert
from processors.normalise import normalise_with_data
from processors.records import AssetLink, AuditRecord
from streams.audit import AuditWriter, read_chains
from streams.core_stage import is_link
from streams.kafka_clients import KafkaClients
from streams.operator.dlq import StoredDeadLetter, source_spec
from streams.publish import encode_record
from streams.serde import AvroSerde
from streams.transactions import EncodedRecord, TransactionalProducer
from streams.topics import RAW_ALERTS

__all__ = ["REDRIVE_CHAIN", "REDRIVE_ACTION", "REDRIVEN_HEADER", "RedriveOutcome", "Redriver", "recheck"]

log = logging.getLogger(__name__)

REDRIVE_CHAIN = "operator.dlq-redrive"
REDRIVE_ACTION = "dlq_redriven"
REDRIVEN_HEADER = "prismaflow-redriven-from"
"""Header on a re-published record: ``<dlq topic>/<dead letter id>``, so its origin is traceable."""

_BATCH = 200  # records per transaction: bounded transactions, progress the operator can see


@dataclass(frozen=True)
class RedriveOutcome:
    """What happened to one selected dead letter: ``redriven``, ``refused`` or ``skipped``, and why."""

    id: str
    outcome: str
    detail: str


def recheck(stored: StoredDeadLetter, serde: AvroSerde, prefix: str) -> str | None:
    """None when the dead letter's original record passes today's validation; else why not."""
    letter = stored.letter
    spec = source_spec(letter.original_topic, prefix)
    if spec is None:
        return (f"source {letter.original_topic!r} is not a topic of the catalogue under prefix {prefix!r}: records "
                "refused at the edge cannot be redriven, the sender must send them again")
    if letter.original_value is None:
        return "the dead letter kept no original value"
    try:
        if spec is RAW_ALERTS and is_link(letter.headers):
            serde.decode(letter.original_value, AssetLink, topic=letter.original_topic)
        elif spec is RAW_ALERTS:
            normalise_with_data(serde.decode(letter.original_value, RawAlert, topic=letter.original_topic))
        else:
            serde.decode_dict(letter.original_value, spec.value_schema, topic=letter.original_topic)
    except Exception as exc:  # noqa: BLE001 - any failure of the stage's own checks is the answer
        return f"still fails: {type(exc).__name__}: {exc}"[:500]
    return None


def _operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry
        return "operator"


class Redriver:
    """Redrives dead letters of one DLQ topic; build it, then :meth:`redrive` (it reads the markers and
    fences any other redrive first)."""

    def __init__(self, clients: KafkaClients, serde: AvroSerde, *, prefix: str, audit_topic: str,
                 transactional_id: str, signer: AuditSigner) -> None:
        self.clients, self.serde, self.prefix, self.audit_topic = clients, serde, prefix, audit_topic
        # Fence first, read the markers second: a redrive that read them before us can no longer commit.
        self.transactions = TransactionalProducer(
            clients.producer_config(**{"transactional.id": transactional_id}), factory=clients.new_producer)
        self.audit = AuditWriter(REDRIVE_CHAIN, clients.settings, serde, signer=signer, topic=audit_topic)

    def redriven_ids(self, dlq_topic: str) -> set[str]:
        """The dead letters of ``dlq_topic`` that a committed redrive already published."""
        done: set[str] = set()
        for (_, chain), records in read_chains(self.clients, self.serde, self.audit_topic).items():
            if chain == REDRIVE_CHAIN:
                done.update(_marker(record, dlq_topic) for record in records)
        done.discard("")
        return done

    def redrive(self, letters: Sequence[StoredDeadLetter],
                progress: Callable[[int], None] = lambda _: None) -> list[RedriveOutcome]:
        """Re-check and re-publish ``letters``; ``progress`` is called with each count handled."""
        outcomes: list[RedriveOutcome] = []  # in the order given; returned only once all is committed
        done = set().union(*(self.redriven_ids(t) for t in {s.dlq_topic for s in letters}))
        self.audit.start()
        batch: list[EncodedRecord] = []
        for stored in letters:
            if stored.id in done:
                outcomes.append(RedriveOutcome(stored.id, "skipped", "already redriven"))
            elif (why := recheck(stored, self.serde, self.prefix)) is not None:
                outcomes.append(RedriveOutcome(stored.id, "refused", why))
            else:
                batch.extend(self._records(stored))
                outcomes.append(RedriveOutcome(stored.id, "redriven", f"to {stored.letter.original_topic}"))
                done.add(stored.id)
            if len(batch) >= 2 * _BATCH:
                self._commit(batch)
                batch = []
            progress(1)
        if batch:
            self._commit(batch)
        return outcomes

    def _records(self, stored: StoredDeadLetter) -> list[EncodedRecord]:
        letter = stored.letter
        headers = [*letter.headers.items(), (REDRIVEN_HEADER, f"{stored.dlq_topic}/{stored.id}".encode())]
        audit = self.audit.record(
            "person", _operator(), REDRIVE_ACTION,
            details={"dlq_topic": stored.dlq_topic, "dead_letter": stored.id, "source_topic": letter.original_topic,
                     "source_partition": letter.original_partition, "source_offset": letter.original_offset,
                     "error_class": letter.error_class})
        return [EncodedRecord(letter.original_topic, letter.original_key, letter.original_value, headers),
                encode_record(self.serde, audit)]

    def _commit(self, batch: list[EncodedRecord]) -> None:
        """One transaction: the re-published records and their audit records (the markers) together."""
        self.transactions.commit(batch)
        log.info("dead letters redriven count=%d", len(batch) // 2)

    def close(self) -> None:
        self.transactions.close()


def _marker(record: AuditRecord, dlq_topic: str) -> str:
    """The dead-letter id an audit record marks as redriven from ``dlq_topic``; '' for any other record."""
    if record.action != REDRIVE_ACTION:
        return ""
    details = json.loads(record.details_json or "{}")
    return str(details.get("dead_letter", "")) if details.get("dlq_topic") == dlq_topic else ""
