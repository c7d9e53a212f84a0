"""The audit ledger's section of the settings tree: the key this process signs with, the keys verify accepts.

``PRISMAFLOW_AUDIT_SIGNING_KEY`` (a secret, usually the file ``prismaflow_audit_signing_key`` in the
secrets folder) is ``<key id>:<base64 Ed25519 private key>``, as ``prismaflow audit keygen`` writes it.
``PRISMAFLOW_AUDIT_VERIFY_KEYS__<KEY ID>`` holds the base64 public key of each other key whose records
``prismaflow audit verify`` accepts: retired keys after a rotation, and the keys of the other writers
when they do not share one. The signing key's own public half is always accepted.

A process that writes audit records refuses to start without a signing key (:meth:`AuditSettings.signer`
raises): an unsigned record cannot be told from a forged one, so writing it would only fill the ledger
with records that verify must reject.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from processors.audit import AuditKeyring, AuditSigner
from processors.errors import ConfigurationError
from streams.settings import SettingsSection

__all__ = ["SIGNING_KEY_VARIABLE", "AuditSettings"]

SIGNING_KEY_VARIABLE = "PRISMAFLOW_AUDIT_SIGNING_KEY"


class AuditSettings(SettingsSection):
    """Keys of the signed audit ledger (see :mod:`processors.audit.signing`)."""

    signing_key: SecretStr | None = Field(
        default=None, description="This process' audit signing key, `<key id>:<base64 Ed25519 private key>` as "
                                  "`prismaflow audit keygen` writes it (secret; the secrets file "
                                  "`prismaflow_audit_signing_key`). Every process that writes audit records "
                                  "(ticket sinks, analysis stage, sync) refuses to start without it")
    verify_keys: dict[str, str] = Field(
        default={}, description="Public keys (base64) that `prismaflow audit verify` also accepts, by key id, "
                                "one `PRISMAFLOW_AUDIT_VERIFY_KEYS__<KEY ID>` variable each: retired keys after a "
                                "rotation, other writers' keys. The signing key's own public key is always accepted")

    def signer(self) -> AuditSigner:
        """The signer of ``signing_key``; :class:`ConfigurationError` when it is missing or malformed."""
        if self.signing_key is None:
            raise ConfigurationError(
                f"no audit signing key: set {SIGNING_KEY_VARIABLE} (or the secrets file "
                f"{SIGNING_KEY_VARIABLE.lower()}); `prismaflow audit keygen <key id> --out <file>` makes one. "
                "Audit records are never written unsigned")
        try:
            return AuditSigner.from_secret(self.signing_key.get_secret_value())
        except ValueError as exc:
            raise ConfigurationError(f"{SIGNING_KEY_VARIABLE}: {exc}") from None

    def keyring(self) -> AuditKeyring:
        """Every public key verification accepts: ``verify_keys`` and the signing key's own, if set."""
        signer = self.signer() if self.signing_key is not None else None
        try:
            return AuditKeyring.from_texts(self.verify_keys, signer=signer)
        except ValueError as exc:
            raise ConfigurationError(f"PRISMAFLOW_AUDIT_VERIFY_KEYS: {exc}") from None
