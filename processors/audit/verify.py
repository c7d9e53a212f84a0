"""Verifying a stored audit chain: :func:`verify_chain` and the problems it reports.

``prismaflow audit verify`` runs it over each chain of ``prisma.audit``; see
:mod:`processors.audit` for the hash scheme and :mod:`processors.audit.signing` for the signatures it
checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from processors.audit.chain import record_hash
from processors.audit.signing import AuditKeyring, SignatureCheck
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
    UNSIGNED = "unsigned"  # no signature (or no key id): written without a key, or forged
    UNKNOWN_KEY = "unknown_key"  # signed with a key id the keyring does not hold
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify: forged or altered


_SIGNATURE_PROBLEMS = {
    SignatureCheck.UNSIGNED: (ProblemKind.UNSIGNED, "the record carries no signature"),
    SignatureCheck.UNKNOWN_KEY: (ProblemKind.UNKNOWN_KEY, "signed with a key the keyring does not hold"),
    SignatureCheck.BAD_SIGNATURE: (ProblemKind.BAD_SIGNATURE, "the signature does not verify under its key"),
}


@dataclass(frozen=True)
class ChainProblem:
    """One finding: its kind, the sequence it concerns (a gap: ``sequence..last_sequence``), and,
    for a stored record, its offset on the topic (when the caller gave offsets) and its key id."""

    kind: ProblemKind
    sequence: int
    detail: str
    record_id: str | None = None
    last_sequence: int | None = None
    offset: int | None = None
    key_id: str | None = None

    def __str__(self) -> str:
        where = (
            f"{self.sequence}..{self.last_sequence}"
            if self.last_sequence is not None and self.last_sequence != self.sequence
            else str(self.sequence)
        )
        at = "" if self.offset is None else f" offset={self.offset}"
        key = "" if self.key_id is None else f" key_id={self.key_id}"
        return f"{self.kind.value} sequence={where}{at}{key} {self.detail}"


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

    @property
    def first_problem(self) -> ChainProblem | None:
        """The problem at the lowest sequence number: where the chain first stops being trustworthy."""
        return self.problems[0] if self.problems else None


def verify_chain(
    records: Iterable[AuditRecord],
    *,
    expect_genesis: bool = True,
    anchor: AuditRecord | None = None,
    keyring: AuditKeyring | None = None,
    offsets: Sequence[int] | None = None,
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

    With ``keyring`` every record must also carry a valid signature by one of its keys
    (``unsigned``, ``unknown_key``, ``bad_signature``): without it only the unkeyed hash chain is
    checked, which anyone able to write the topic can rebuild, so every command passes one.
    ``offsets`` (the topic offsets of ``records``, in the same order) name where each bad record is.
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

    where: dict[str, tuple[int | None, str | None]] = {}  # record id -> (offset, key id), to name records
    after_gap: dict[int, tuple[int | None, str | None]] = {}  # sequence -> the same, to name a gap's end
    for index, record in enumerate(records):
        checked += 1
        offset = offsets[index] if offsets is not None else None
        where.setdefault(record.record_id, (offset, record.key_id))
        after_gap.setdefault(record.sequence, (offset, record.key_id))
        actual = record_hash(record)
        if actual != record.hash:
            problems.append(
                ChainProblem(
                    ProblemKind.TAMPERED, record.sequence,
                    "content does not match its hash", record.record_id, offset=offset, key_id=record.key_id,
                )
            )
        if keyring is not None:
            verdict = keyring.check(record.key_id, record.hash, record.signature)
            if verdict is not SignatureCheck.VALID:
                kind, detail = _SIGNATURE_PROBLEMS[verdict]
                problems.append(ChainProblem(kind, record.sequence, detail, record.record_id,
                                             offset=offset, key_id=record.key_id))
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
    problems = [_located(problem, where, after_gap) for problem in problems]
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


def _located(problem: ChainProblem, where: dict[str, tuple[int | None, str | None]],
             after_gap: dict[int, tuple[int | None, str | None]]) -> ChainProblem:
    """``problem`` with the offset and key id of its record filled in, where known; a gap gets those
    of the first record stored after it."""
    if problem.offset is not None:
        return problem
    if problem.kind is ProblemKind.MISSING and problem.last_sequence is not None:
        found = after_gap.get(problem.last_sequence + 1)
    else:
        found = where.get(problem.record_id) if problem.record_id is not None else None
    return problem if found is None else replace(problem, offset=found[0], key_id=found[1])


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
