"""Flat authentication settings and the discriminated ``auth`` union of a connector, kept in step.

The settings tree reads one environment variable per field, so a connector that authenticates with
either a bearer token or basic credentials (Jira, ServiceNow) exposes them as flat optional fields
(``bearer_token``; a user field and a secret field) beside its ``auth`` union. One before-validator,
shared here, builds ``auth`` from the flat fields, or fills the flat fields from a given ``auth``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["auth_from_flat_fields"]


def auth_from_flat_fields(data: Any, user_field: str, secret_field: str) -> Any:
    """``auth`` from ``bearer_token`` (which wins), else ``user_field`` + ``secret_field``; or those
    flat fields from a given ``auth``. Raises ``ValueError`` when neither is set."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    auth = data.get("auth")
    if auth is None:
        if data.get("bearer_token"):
            data["auth"] = {"kind": "bearer", "token": data["bearer_token"]}
        elif data.get(user_field) and data.get(secret_field):
            data["auth"] = {"kind": "basic", user_field: data[user_field], secret_field: data[secret_field]}
        else:
            raise ValueError(f"set bearer_token, or {user_field} and {secret_field} (basic auth)")
        return data
    given = auth.model_dump() if isinstance(auth, BaseModel) else auth if isinstance(auth, dict) else {}
    if given.get("kind") == "bearer":
        data.setdefault("bearer_token", given.get("token"))
    elif given.get("kind", "basic") == "basic":
        data.setdefault(user_field, given.get(user_field))
        data.setdefault(secret_field, given.get(secret_field))
    return data
