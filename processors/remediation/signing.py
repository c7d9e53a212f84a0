"""Signatures that bind a remediation decision to the exact plan it is about.

A decision is signed with HMAC-SHA256 over the canonical JSON of
``[request_id, plan_digest, decision, approver, decided_at in epoch milliseconds]``. The plan digest
(:meth:`processors.remediation.plan.RemediationPlan.digest`) covers every action and parameter, so
an approval cannot be replayed onto another plan, another request, another person or another time:
changing any of them breaks the signature. Milliseconds, because that is what survives Avro's
``timestamp-millis``.

HMAC rather than Ed25519: the approval service is the only signer and the only verifier (the
executor runs beside it with the same secret), so a shared key from the secrets folder gives the
same guarantee without a key pair to distribute. Keys have ids (``key_id``) so they can rotate: the
verifier holds every key still accepted, the signer uses the newest.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from processors.records import Decision, RemediationDecision
from processors.remediation.plan import canonical_json

__all__ = ["SigningKey", "decision_message", "sign_decision", "signature_valid"]


class SigningKey:
    """A secret key and its id. ``repr`` never shows the secret."""

    __slots__ = ("key_id", "_secret")

    def __init__(self, key_id: str, secret: bytes) -> None:
        if not key_id:
            raise ValueError("a signing key needs an id")
        if len(secret) < 16:
            raise ValueError("a signing key needs at least 16 bytes")
        self.key_id = key_id
        self._secret = secret

    def mac(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message``, hex."""
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _millis(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp times 1000 can land one millisecond low.
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def decision_message(request_id: str, plan_digest: str, decision: Decision, approver: str,
                     decided_at: datetime) -> bytes:
    """The bytes a decision's signature covers."""
    return canonical_json([request_id, plan_digest, decision.name, approver, _millis(decided_at)]).encode("utf-8")


def sign_decision(decision: RemediationDecision, key: SigningKey) -> RemediationDecision:
    """``decision`` with its signature and key id set (its plan digest must already be set)."""
    if not decision.plan_digest:
        raise ValueError("a decision is signed over a plan digest; set plan_digest first")
    message = decision_message(decision.request_id, decision.plan_digest, decision.decision,
                               decision.approver or "", decision.decided_at)
    return decision.model_copy(update={"signature": key.mac(message), "key_id": key.key_id})


def signature_valid(decision: RemediationDecision, keys: Mapping[str, SigningKey]) -> bool:
    """Whether ``decision`` carries a signature one of ``keys`` made over exactly its content."""
    key = keys.get(decision.key_id)
    if key is None or not decision.signature:
        return False
    message = decision_message(decision.request_id, decision.plan_digest, decision.decision,
                               decision.approver or "", decision.decided_at)
    return hmac.compare_digest(key.mac(message), decision.signature)
