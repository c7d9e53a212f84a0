"""Signing audit records so that writing to ``prisma.audit`` is not enough to forge the ledger.

The hash chain alone (:mod:`processors.audit.chain`) is unkeyed: whoever can write the topic can
append a changed record and re-hash everything after it. Each record therefore also carries an
Ed25519 signature by the writer's key, over its hash (which covers every other field and the link to
the record before) and the key's id::

    signature = base64(Ed25519_sign(private_key, b"prismaflow.audit.v1" 0x00 key_id 0x00 hash))

Ed25519 rather than HMAC: verifying needs only the public keys, so an auditor (``prismaflow audit
verify``) holds nothing that lets it write a record, and a retired key's public half can stay in the
configuration for ever without risk. Rotation: each record names its ``key_id``; a writer signs with
one key (:class:`AuditSigner`), verification accepts any key of the :class:`AuditKeyring` (current
and retired public keys) and refuses a record whose key it does not know.

Key text formats (what ``prismaflow audit keygen`` writes): a signing key is ``<key id>:<base64 of the
32-byte private key>`` (a secret), a public key is the base64 of its 32 raw bytes. Key ids are lower
case (the settings source lower-cases mapping keys) letters, digits and ``_``, so that
``PRISMAFLOW_AUDIT_VERIFY_KEYS__<KEY ID>`` is a variable name every shell accepts.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from enum import Enum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

__all__ = ["AuditKeyring", "AuditSigner", "SignatureCheck", "check_key_id", "signed_message"]

#: Domain separation: these bytes start every signed message, so an audit signature is never valid
#: for anything else signed with the same key.
SIGNATURE_CONTEXT = b"prismaflow.audit.v1"

_KEY_ID = re.compile(r"[a-z0-9][a-z0-9_]{0,63}")


def check_key_id(key_id: str) -> str:
    """``key_id`` when it is a valid key id; else ``ValueError`` (the id, never a key, in the message)."""
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"invalid audit key id {key_id!r}: lower-case letters, digits and '_'; at most 64")
    return key_id


def signed_message(key_id: str, record_hash: str) -> bytes:
    """The bytes a record's signature is over: the context, the key id and the record's hash."""
    return SIGNATURE_CONTEXT + b"\x00" + key_id.encode("utf-8") + b"\x00" + record_hash.encode("utf-8")


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes (an Ed25519 key), got {len(raw)}")
    return raw


def _public_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


class AuditSigner:
    """One writer's signing key: signs record hashes under its ``key_id``.

    Holds a private key: its ``repr`` shows only the key id, and the key text leaves it only
    through :meth:`secret_text` (for ``prismaflow audit keygen`` writing a key file).
    """

    __slots__ = ("_private", "key_id")

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        self.key_id = check_key_id(key_id)
        self._private = private_key

    @classmethod
    def generate(cls, key_id: str) -> AuditSigner:
        """A new random key named ``key_id``."""
        return cls(key_id, Ed25519PrivateKey.generate())

    @classmethod
    def from_secret(cls, text: str) -> AuditSigner:
        """The signer a ``<key id>:<base64 private key>`` text describes (``ValueError`` if malformed)."""
        key_id, separator, key = text.strip().partition(":")
        if not separator or not _KEY_ID.fullmatch(key_id):  # no echo: the parts may be swapped
            raise ValueError("an audit signing key is '<key id>:<base64 private key>', the key id in lower case")
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(_decode_key(key, "the audit signing key")))

    def secret_text(self) -> str:
        """``<key id>:<base64 private key>``: the secret to store (a secrets file), never to log."""
        raw = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return f"{self.key_id}:{base64.b64encode(raw).decode('ascii')}"

    def public_key_text(self) -> str:
        """The base64 public key, for the verifiers' keyring (not a secret)."""
        return _public_text(self._private.public_key())

    def public_key(self) -> Ed25519PublicKey:
        return self._private.public_key()

    def sign(self, record_hash: str) -> str:
        """The base64 signature of a record whose hash is ``record_hash``."""
        return base64.b64encode(self._private.sign(signed_message(self.key_id, record_hash))).decode("ascii")

    def __repr__(self) -> str:
        return f"AuditSigner(key_id={self.key_id!r})"


class SignatureCheck(str, Enum):
    """What :meth:`AuditKeyring.check` found about one record's signature."""

    VALID = "valid"
    UNSIGNED = "unsigned"  # no key id or no signature
    UNKNOWN_KEY = "unknown_key"  # signed with a key the keyring does not hold
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify under the named key


class AuditKeyring:
    """The public keys whose signatures verification accepts, by key id (current and retired)."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey] | None = None) -> None:
        self._keys = {check_key_id(key_id): key for key_id, key in (keys or {}).items()}

    @classmethod
    def from_texts(cls, keys: Mapping[str, str], *, signer: AuditSigner | None = None) -> AuditKeyring:
        """A keyring of base64 public keys by id, plus ``signer``'s own public key when given.

        Raises ``ValueError`` for a malformed key, or when ``signer``'s id names a different public key.
        """
        parsed: dict[str, Ed25519PublicKey] = {
            key_id: Ed25519PublicKey.from_public_bytes(_decode_key(text, f"audit verify key {key_id!r}"))
            for key_id, text in keys.items()
        }
        if signer is not None:
            listed = parsed.get(signer.key_id)
            if listed is not None and _public_text(listed) != signer.public_key_text():
                raise ValueError(f"audit key {signer.key_id!r}: the verify key listed does not match the signing key")
            parsed[signer.key_id] = signer.public_key()
        return cls(parsed)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def check(self, key_id: str | None, record_hash: str, signature: str | None) -> SignatureCheck:
        """Whether ``signature`` is ``key_id``'s valid signature of ``record_hash``."""
        if not key_id or not signature:
            return SignatureCheck.UNSIGNED
        key = self._keys.get(key_id)
        if key is None:
            return SignatureCheck.UNKNOWN_KEY
        try:
            key.verify(base64.b64decode(signature, validate=True), signed_message(key_id, record_hash))
        except (InvalidSignature, binascii.Error, ValueError):
            return SignatureCheck.BAD_SIGNATURE
        return SignatureCheck.VALID
