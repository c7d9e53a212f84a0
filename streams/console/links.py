"""Signed one-click links from chat to one request: ``/r/<request id>?sig=<timestamp>.<signature>``.

Signed with ``itsdangerous``' :class:`~itsdangerous.TimestampSigner` (HMAC-SHA256 over the request
id and the signing time, with the console's link key from the secrets folder and a salt of its
own), the library Starlette's session cookies use too: it does the constant-time comparison, the
timestamp encoding and the expiry check that a hand-written HMAC would have to get right itself. A
link cannot be forged for another request or used past its age limit. It only *opens* the request:
the console still asks the person to log in, and deciding needs an approver's session and its CSRF
token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from urllib.parse import quote

from itsdangerous import BadSignature, TimestampSigner

__all__ = ["LinkSigner"]

_SALT = "prismaflow.console.one-click-link"


class _ClockedSigner(TimestampSigner):
    """A timestamp signer reading an injected clock (tests move time instead of sleeping)."""

    def __init__(self, key: bytes, clock: Callable[[], float]) -> None:
        super().__init__(key, salt=_SALT, digest_method=hashlib.sha256)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class LinkSigner:
    """Makes and checks one-click links with one key; links live ``ttl_s`` seconds."""

    def __init__(self, key: bytes, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        if len(key) < 16:
            raise ValueError("link key too short (16 bytes at least)")
        self._signer = _ClockedSigner(key, clock)
        self.ttl_s = ttl_s

    def path(self, request_id: str) -> str:
        """The path and query of a link to ``request_id``, valid for :attr:`ttl_s` from now."""
        token = self._signer.sign(request_id).decode()
        return f"/r/{quote(request_id, safe='')}?sig={token[len(request_id) + 1:]}"

    def valid(self, request_id: str, signature: str) -> bool:
        """True when ``signature`` is this key's for ``request_id`` and younger than :attr:`ttl_s`."""
        try:
            self._signer.unsign(f"{request_id}.{signature}", max_age=self.ttl_s)
        except BadSignature:  # SignatureExpired is one too
            return False
        return True
