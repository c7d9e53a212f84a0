"""The audit signing key the tests' writers sign with, generated per test session (never a key in code)."""

from __future__ import annotations

from processors.audit import AuditKeyring, AuditSigner

#: Signs every audit record the tests write.
TEST_SIGNER = AuditSigner.generate("tests")
#: Accepts exactly :data:`TEST_SIGNER`'s records.
TEST_KEYRING = AuditKeyring.from_texts({}, signer=TEST_SIGNER)
