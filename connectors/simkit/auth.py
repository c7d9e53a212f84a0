"""Reading the credentials of an ``Authorization`` header, as the simulated services do."""

from __future__ import annotations

import base64
import binascii

__all__ = ["basic_credentials", "bearer_token"]


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(user, password)`` of a ``Basic`` header; None for another scheme or bad base64."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, binascii.Error):
        return None
    return user, password


def bearer_token(header: str) -> str | None:
    """The token of a ``Bearer`` header; None for another scheme."""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
