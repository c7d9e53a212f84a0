"""Verifying a stored audit chain: :func:`verify_chain` and the problems it reports.

``prismaflow audit verify`` runs it over each partition of ``prisma.audit``; see
:mod:`processors.audit` for the hash scheme it checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from processors.audit.chain import record_hash
from processors.records import AuditRecord

__all__ = ["ChainProblem", "ProblemKind", "VerificationReport", "verify_chain"]

logger = logging.getLogger(__name__)


class ProblemKind(str, Enum):
    """What :func:`verify_chain` found wrong at a sequence number."""

    TAMPERED = "tampered"  # the stored hash is not the hash of the record's content
    BROKEN_LINK = "broken_link"  # prev_hash is not the hash of the record before it
    MISSING = "missing"  # sequence numbers absent from the chain (a gap, or no genesis)
    OUT_OF_ORDER = "out_of_order"  # a record arrived after one with a higher sequence
    FORK = "fork"  # two different records claim the same sequence number
    BAD_GENESIS = "bad_genesis"  # sequence 0 with a non-empty prev_hash


@dataclass(frozen=True)
class ChainProblem:
    """One finding: its kind, the sequence it concerns (a gap: ``sequence..last_sequence``)."""

    kind: ProblemKind
    sequence: int
    detail: str
    record_id: str | None = None
    last_sequence: int | None = None

    def __str__(self) -> str:
        where = (
            f"{self.sequence}..{self.last_sequence}"
            if self.last_sequence is not None and self.last_sequence != self.sequence
            else str(self.sequence)
        )
        return f"{self.kind.value} sequence={where} {self.detail}"


@dataclass(frozen=True)
class VerificationReport:
    """The result of :func:`verify_chain`. ``ok`` when no problem was found.

    ``duplicates`` counts byte-identical redeliveries of a record (Kafka is at-least-once): they
    are not problems. ``head_hash`` is the hash of the highest sequence seen: pin it elsewhere to
    detect a truncated tail later.
    """

    checked: int
    first_sequence: int | None
    last_sequence: int | None
    head_hash: str | None
    duplicates: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(
    records: Iterable[AuditRecord],
    *,
    expect_genesis: bool = True,
    anchor: AuditRecord | None = None,
) -> VerificationReport:
    """Check one chain, records in the order they were stored (Kafka offset order).

    Finds, with the sequence numbers concerned: records whose content does not match their hash
    (``tampered``), records whose ``prev_hash`` is not the hash of the record before
    (``broken_link``: a record before was altered and re-hashed, or replaced), gaps
    (``missing``), records stored after a higher sequence (``out_of_order``) and two different
    records at one sequence (``fork``).

    ``expect_genesis`` (default) requires the chain to start at sequence 0 with an empty
    ``prev_hash``; set it False when retention has removed the oldest records, or pass ``anchor``,
    a trusted earlier record the first checked record must follow. Holds one hash per record in
    memory (about 150 bytes each). Never raises on bad data: everything lands in the report.
    """
    seen: dict[int, set[str]] = {}  # sequence -> hashes of records stored at it
    pending: dict[int, list[AuditRecord]] = {}  # waiting for their predecessor to arrive
    problems: list[ChainProblem] = []
    checked = duplicates = 0
    highest: int | None = None
    if anchor is not None:
        seen[anchor.sequence] = {anchor.hash}

    def check_link(record: AuditRecord) -> None:
        before = seen.get(record.sequence - 1)
        if before is None:
            pending.setdefault(record.sequence - 1, []).append(record)
        elif record.prev_hash not in before:
            problems.append(
                ChainProblem(
                    ProblemKind.BROKEN_LINK,
                    record.sequence,
                    f"prev_hash does not match the hash of sequence {record.sequence - 1}",
                    record.record_id,
                )
            )

    for record in records:
        checked += 1
        actual = record_hash(record)
        if actual != record.hash:
            problems.append(
                ChainProblem(
                    ProblemKind.TAMPERED, record.sequence,
                    "content does not match its hash", record.record_id,
                )
            )
        known = seen.get(record.sequence)
        if known is not None:
            if record.hash in known:
                duplicates += 1
                continue
            problems.append(
                ChainProblem(
                    ProblemKind.FORK, record.sequence,
                    "a different record already holds this sequence", record.record_id,
                )
            )
            known.add(record.hash)
            if record.sequence > 0:
                check_link(record)
            continue
        if highest is not None and record.sequence < highest:
            problems.append(
                ChainProblem(
                    ProblemKind.OUT_OF_ORDER, record.sequence,
                    f"stored after sequence {highest}", record.record_id,
                )
            )
        seen[record.sequence] = {record.hash}
        highest = record.sequence if highest is None else max(highest, record.sequence)
        if record.sequence == 0:
            if record.prev_hash != "":
                problems.append(
                    ChainProblem(
                        ProblemKind.BAD_GENESIS, 0, "sequence 0 has a prev_hash", record.record_id
                    )
                )
        else:
            check_link(record)
        for waiting in pending.pop(record.sequence, []):
            if waiting.prev_hash not in seen[record.sequence]:
                problems.append(
                    ChainProblem(
                        ProblemKind.BROKEN_LINK, waiting.sequence,
                        f"prev_hash does not match the hash of sequence {record.sequence}",
                        waiting.record_id,
                    )
                )

    stored = sorted(s for s in seen if anchor is None or s != anchor.sequence)
    if stored:
        if anchor is not None:
            start = anchor.sequence + 1
        elif expect_genesis:
            start = 0
        else:
            start = stored[0]
        problems.extend(_gaps(start, stored))
    problems.sort(key=lambda p: (p.sequence, p.kind.value))
    head = max(stored) if stored else None
    report = VerificationReport(
        checked=checked,
        first_sequence=stored[0] if stored else None,
        last_sequence=head,
        head_hash=min(seen[head]) if head is not None else None,
        duplicates=duplicates,
        problems=problems,
    )
    logger.debug(
        "audit verify checked=%d problems=%d duplicates=%d", checked, len(problems), duplicates
    )
    return report


def _gaps(start: int, stored: list[int]) -> list[ChainProblem]:
    gaps: list[ChainProblem] = []
    expected = start
    for sequence in stored:
        if sequence > expected:
            gaps.append(
                ChainProblem(
                    ProblemKind.MISSING,
                    expected,
                    f"{sequence - expected} record(s) missing before sequence {sequence}",
                    last_sequence=sequence - 1,
                )
            )
        expected = max(expected, sequence + 1)
    return gaps
