"""The hash-chained audit trail: build :class:`AuditRecord` entries and verify a chain of them.

Every stage that acts (a model analysing an alert, a sink creating a ticket, a person approving a
fix) appends one :class:`AuditRecord` to ``prisma.audit``. Each Kafka partition of that topic holds
one chain, written by one :class:`AuditChain`: record ``n`` carries ``sequence = n`` and the hash of
record ``n - 1`` as ``prev_hash``, and its own ``hash`` covers every other field. Changing, dropping,
reordering or forking records therefore shows up in :func:`verify_chain`, which the
``prismaflow audit verify`` command runs over each partition.

Hash scheme (version 1, stable: changing it breaks every stored chain)::

    hash = sha256(canonical_json(record without "hash")).hexdigest()

where canonical JSON is UTF-8, keys sorted, no insignificant whitespace, non-ASCII kept as is,
enums as their value, ``None`` as ``null`` and ``at`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC,
milliseconds: the precision Avro ``timestamp-millis`` keeps, so a record read back from Kafka
hashes as it did when written). All fields are strings, integers or null, so the form is also what
RFC 8785 (JCS) produces for them, apart from JCS's escaping of a few control characters.

What the chain cannot show by itself: a truncated tail (the last records deleted) or a whole chain
rewritten from the start. Pin the head hash somewhere else (a ticket, a second store) for that.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from processors.records import ActorType, AuditRecord

__all__ = [
    "REDACTED",
    "AuditChain",
    "ChainProblem",
    "ProblemKind",
    "VerificationReport",
    "canonical_json",
    "record_hash",
    "redact",
    "verify_chain",
]

logger = logging.getLogger(__name__)

#: What a redacted value is replaced with.
REDACTED = "[REDACTED]"

# A key is secret when one of its words (split on _ - . space and camelCase) is one of these, or
# when two adjacent words make one of the pairs ("api_key", "accessKey", "private-key").
_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "authorization",
        "auth", "bearer", "credential", "credentials", "cookie", "sig", "signature", "webhook",
        "privatekey", "secretkey", "accesskey", "sessionid", "jwt",
    }
)
_SECRET_PAIRS = frozenset(
    {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("session", "id"),
     ("client", "secret"), ("set", "cookie")}
)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
# Secrets that turn up inside ordinary values: webhook URLs, signed URLs, auth headers.
_SECRET_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https?://hooks\.slack\.com/\S+", re.IGNORECASE), REDACTED),
    (
        re.compile(
            r"(?<=[?&])(sig|signature|token|access_token|api_key|apikey|key|code)=[^&\s\"']+",
            re.IGNORECASE,
        ),
        rf"\1={REDACTED}",
    ),
    (re.compile(r"\b(Bearer|Basic|Splunk)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), rf"\1 {REDACTED}"),
)


def _is_secret_key(key: str) -> bool:
    words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    if "".join(words) in _SECRET_WORDS:
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


def _scrub_text(text: str) -> str:
    for pattern, replacement in _SECRET_VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with secrets replaced by :data:`REDACTED`.

    Called on every ``details`` mapping before it becomes ``details_json``. Removes the values of
    keys that name a secret (password, token, secret, api_key, authorization, cookie, sig,
    webhook ...; matched per word, so ``tokens_in`` is kept), every ``SecretStr``/``SecretBytes``,
    and secrets embedded in strings (Slack webhook URLs, ``sig=``/``token=`` query parameters,
    ``Bearer``/``Basic`` credentials). Pydantic models are dumped first; datetimes become ISO
    strings, enums their value, anything else unknown its ``str()``.
    """
    if isinstance(value, (SecretStr, SecretBytes)):
        return REDACTED
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if _is_secret_key(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v) for v in value]
    if isinstance(value, Enum):
        return redact(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return _scrub_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return _scrub_text(str(value))


def _format_at(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def canonical_json(record: AuditRecord) -> bytes:
    """The bytes the record's hash is computed over: every field but ``hash``, canonical JSON."""
    body: dict[str, Any] = {}
    for name in AuditRecord.model_fields:
        if name == "hash":
            continue
        value = getattr(record, name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, datetime):
            value = _format_at(value)
        body[name] = value
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def record_hash(record: AuditRecord) -> str:
    """SHA-256 (hex) of :func:`canonical_json`: what ``record.hash`` must equal."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def _new_id() -> str:
    return str(uuid.uuid4())


class AuditChain:
    """Appends hash-chained :class:`AuditRecord`s to one chain (one ``prisma.audit`` partition).

    Not thread-safe and not shared: one writer per chain, or the chain forks. The writer keeps
    ``next_sequence`` and ``head_hash`` in memory; after a restart build it with
    :meth:`resume` from the last record of the partition, so the chain continues instead of
    starting a second genesis. ``clock`` (the wall clock, given by the stream layer: this module reads
    no clock itself) and ``id_factory`` are seams for tests.
    """

    def __init__(
        self,
        stream: str = "",
        *,
        next_sequence: int = 0,
        head_hash: str = "",
        clock: Callable[[], datetime],
        id_factory: Callable[[], str] = _new_id,
    ) -> None:
        if next_sequence < 0:
            raise ValueError("next_sequence must not be negative")
        if (next_sequence == 0) != (head_hash == ""):
            raise ValueError("head_hash must be empty exactly when next_sequence is 0")
        self.stream = stream
        self.next_sequence = next_sequence
        self.head_hash = head_hash
        self._clock = clock
        self._id_factory = id_factory

    @classmethod
    def resume(
        cls,
        last: AuditRecord | None,
        stream: str = "",
        *,
        clock: Callable[[], datetime],
        id_factory: Callable[[], str] = _new_id,
    ) -> AuditChain:
        """A chain that continues after ``last`` (the newest record read back), or a new one."""
        if last is None:
            return cls(stream, clock=clock, id_factory=id_factory)
        return cls(
            stream,
            next_sequence=last.sequence + 1,
            head_hash=last.hash,
            clock=clock,
            id_factory=id_factory,
        )

    def append(
        self,
        actor_type: ActorType,
        actor: str,
        action: str,
        *,
        alert_id: str | None = None,
        incident_id: str | None = None,
        prompt_version: str | None = None,
        model: str | None = None,
        input_hash: str | None = None,
        outcome: str = "ok",
        details: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditRecord:
        """Build the next record of the chain and advance the head.

        ``details`` is redacted (:func:`redact`) and stored as canonical JSON. ``at`` defaults to
        the clock and is cut to milliseconds. Raises ``ValueError`` (pydantic's
        ``ValidationError``) when a field is invalid; the chain does not advance then.
        """
        when = (at or self._clock())
        if when.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        when = when.astimezone(UTC).replace(microsecond=when.microsecond // 1000 * 1000)
        details_json = json.dumps(
            redact(dict(details or {})), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
            default=str,
        )
        draft = AuditRecord(
            record_id=self._id_factory(),
            sequence=self.next_sequence,
            prev_hash=self.head_hash,
            hash="",
            actor_type=actor_type,
            actor=actor,
            action=action,
            alert_id=alert_id,
            incident_id=incident_id,
            prompt_version=prompt_version,
            model=model,
            input_hash=input_hash,
            outcome=outcome,
            details_json=details_json,
            at=when,
        )
        record = draft.model_copy(update={"hash": record_hash(draft)})
        self.next_sequence += 1
        self.head_hash = record.hash
        logger.debug(
            "audit append stream=%s sequence=%d action=%s actor_type=%s outcome=%s",
            self.stream, record.sequence, action, actor_type.value, outcome,
        )
        return record


# --- verification --------------------------------------------------------------------------------


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
