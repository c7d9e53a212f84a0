"""The console's local user store: names, roles and argon2 password hashes from a YAML file.

Passwords are checked with argon2id through ``argon2-cffi`` (the reference implementation's
bindings, maintained by the PyCA-adjacent author of ``attrs``): a memory-hard hash with its salt and
parameters inside the encoded string, so the file holds nothing a reader could replay, and
``check_needs_rehash`` tells when the parameters got stronger. Hand-written hashing (salted SHA-256)
would be fast to brute-force; passlib would add a framework for one algorithm.

File format::

    users:
      - name: alice
        role: approver          # viewer, approver or admin
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from processors.errors import ConfigurationError

__all__ = ["ConsoleUser", "Principal", "Role", "UserStore", "hash_password"]

_HASHER = PasswordHasher()
# Verified when the name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("no such user")


class Role(str, Enum):
    """What a console user may do: a viewer reads, an approver also decides, an admin too."""

    VIEWER = "viewer"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def may_decide(self) -> bool:
        return self is not Role.VIEWER


@dataclass(frozen=True)
class Principal:
    """Who a session belongs to: a name, a role, and where the login came from (``local`` or ``sso``)."""

    name: str
    role: Role
    source: str = "local"


class ConsoleUser(BaseModel):
    """One user of the store."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Role
    password_hash: str = Field(pattern=r"^\$argon2(id|i|d)\$")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` in the encoded form the user store holds."""
    return _HASHER.hash(password)


class UserStore:
    """Users by name; :meth:`authenticate` is the only way to get one."""

    def __init__(self, users: Mapping[str, ConsoleUser]) -> None:
        self._users = dict(users)

    @classmethod
    def from_users(cls, *users: ConsoleUser) -> UserStore:
        return cls({user.name: user for user in users})

    @classmethod
    def load(cls, path: Path) -> UserStore:
        """Read the YAML file; :class:`ConfigurationError` names what is wrong (never a hash)."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"console users file {path}: {type(exc).__name__}") from None
        entries = raw.get("users") if isinstance(raw, dict) else None
        if not isinstance(entries, list):
            raise ConfigurationError(f"console users file {path}: needs a `users:` list")
        users: dict[str, ConsoleUser] = {}
        for index, entry in enumerate(entries):
            try:
                user = ConsoleUser.model_validate(entry)
            except ValidationError as exc:
                fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
                raise ConfigurationError(f"console users file {path}: user {index}: bad {', '.join(fields)}") from None
            if user.name in users:
                raise ConfigurationError(f"console users file {path}: {user.name} twice")
            users[user.name] = user
        return cls(users)

    def __len__(self) -> int:
        return len(self._users)

    def get(self, name: str) -> ConsoleUser | None:
        return self._users.get(name)

    def principal(self, name: str) -> Principal | None:
        """The local user ``name`` as a session principal (its current role), or None."""
        user = self._users.get(name)
        return None if user is None else Principal(user.name, user.role)

    def authenticate(self, name: str, password: str) -> ConsoleUser | None:
        """The user when ``password`` is theirs, else None (same work either way)."""
        user = self._users.get(name)
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return user
