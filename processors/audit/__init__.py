"""The hash-chained audit trail: build :class:`AuditRecord` entries and verify a chain of them.

Every stage that acts (a model analysing an alert, a sink creating a ticket, a person approving a
fix) appends one :class:`AuditRecord` to ``prisma.audit``. Each Kafka partition of that topic holds
one chain, written by one :class:`AuditChain`: record ``n`` carries ``sequence = n`` and the hash of
record ``n - 1`` as ``prev_hash``, and its own ``hash`` covers every other field. Changing, dropping,
reordering or forking records therefore shows up in :func:`verify_chain`, which the
``prismaflow audit verify`` command runs over each partition.

Hash scheme (version 1, stable: changing it breaks every stored chain)::

    hash = sha256(canonical_json(record without "hash", "key_id", "signature")).hexdigest()

where canonical JSON is UTF-8, keys sorted, no insignificant whitespace, non-ASCII kept as is,
enums as their value, ``None`` as ``null`` and ``at`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC,
milliseconds: the precision Avro ``timestamp-millis`` keeps, so a record read back from Kafka
hashes as it did when written). All fields are strings, integers or null, so the form is also what
RFC 8785 (JCS) produces for them, apart from JCS's escaping of a few control characters.

The hash is unkeyed: anyone who can write the topic could rebuild a valid chain. Each record is
therefore also signed with its writer's Ed25519 key over its hash (:mod:`processors.audit.signing`),
and :func:`verify_chain` given a keyring refuses unsigned records, unknown keys and bad signatures.

What the chain cannot show by itself: a truncated tail (the last records deleted) or a whole chain
rewritten from the start. Pin the head hash somewhere else (a ticket, a second store) for that.
"""

from __future__ import annotations

from processors.audit.chain import REDACTED, AuditChain, canonical_json, record_hash, redact
from processors.audit.signing import AuditKeyring, AuditSigner, SignatureCheck, check_key_id
from processors.audit.verify import ChainProblem, ProblemKind, VerificationReport, verify_chain

__all__ = [
    "REDACTED",
    "AuditChain",
    "AuditKeyring",
    "AuditSigner",
    "ChainProblem",
    "ProblemKind",
    "SignatureCheck",
    "VerificationReport",
    "canonical_json",
    "check_key_id",
    "record_hash",
    "redact",
    "verify_chain",
]
