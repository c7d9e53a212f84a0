"""Building the hash-chained audit trail: redaction, the canonical form, the hash, :class:`AuditChain`.

The hash scheme and what the chain proves are described in :mod:`processors.audit`; checking a
stored chain is :mod:`processors.audit.verify`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from processors.audit.signing import AuditSigner
from processors.records import ActorType, AuditRecord

__all__ = ["REDACTED", "AuditChain", "canonical_json", "record_hash", "redact"]

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


#: Fields the hash does not cover: the hash itself, and the signature over it with its key's id
#: (added after hash scheme 1 was fixed, so records written before signing still hash as they did).
UNHASHED_FIELDS = frozenset({"hash", "key_id", "signature"})


def canonical_json(record: AuditRecord) -> bytes:
    """The bytes the record's hash is computed over: every field but :data:`UNHASHED_FIELDS`,
    canonical JSON."""
    body: dict[str, Any] = {}
    for name in AuditRecord.model_fields:
        if name in UNHASHED_FIELDS:
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
    no clock itself) and ``id_factory`` are seams for tests. With ``signer`` every record is signed
    (:mod:`processors.audit.signing`); the Kafka writer always passes one.
    """

    def __init__(
        self,
        stream: str = "",
        *,
        next_sequence: int = 0,
        head_hash: str = "",
        clock: Callable[[], datetime],
        id_factory: Callable[[], str] = _new_id,
        signer: AuditSigner | None = None,
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
        self._signer = signer

    @classmethod
    def resume(
        cls,
        last: AuditRecord | None,
        stream: str = "",
        *,
        clock: Callable[[], datetime],
        id_factory: Callable[[], str] = _new_id,
        signer: AuditSigner | None = None,
    ) -> AuditChain:
        """A chain that continues after ``last`` (the newest record read back), or a new one."""
        if last is None:
            return cls(stream, clock=clock, id_factory=id_factory, signer=signer)
        return cls(
            stream,
            next_sequence=last.sequence + 1,
            head_hash=last.hash,
            clock=clock,
            id_factory=id_factory,
            signer=signer,
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
        digest = record_hash(draft)
        signed = {} if self._signer is None else {"key_id": self._signer.key_id,
                                                  "signature": self._signer.sign(digest)}
        record = draft.model_copy(update={"hash": digest, **signed})
        self.next_sequence += 1
        self.head_hash = record.hash
        logger.debug(
            "audit append stream=%s sequence=%d action=%s actor_type=%s outcome=%s",
            self.stream, record.sequence, action, actor_type.value, outcome,
        )
        return record
