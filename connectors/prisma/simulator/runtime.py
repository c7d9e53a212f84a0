"""The Prisma Cloud simulator's own moving parts: configuration, issued tokens, rate-limit specs.

The clock, the token bucket, faults and stats are the simulator kit's (:mod:`connectors.simkit`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from connectors.simkit import FaultRules, SimClock, TokenBucket

__all__ = [
    "FAULT_RULES",
    "RateSpec",
    "SimClock",
    "SimConfig",
    "TokenStore",
    "rate_headers",
]

FAULT_RULES = FaultRules(
    kinds=frozenset({"5xx", "429", "slow", "expire_tokens", "401"}),
    fields=("route", "kind", "count", "delay_s", "status", "retry_after_s", "method"),
    required=("route",),
)


@dataclass(frozen=True)
class RateSpec:
    """A per-user token bucket: ``rate`` tokens per second, at most ``burst`` saved."""

    name: str
    rate: float
    burst: int


@dataclass
class SimConfig:
    """How the simulator behaves; every [UNCONFIRMED] choice in the reference is a knob here."""

    users: dict[str, str] = field(default_factory=lambda: {"sim-access-key": "sim-secret-key"})
    token_ttl_s: float = 600.0
    compute_token_ttl_s: float = 600.0
    page_token_ttl_s: float = 600.0
    rate_limits: bool = True
    retry_after_on_429: bool = False
    alert_list_rate: RateSpec = RateSpec("alert_list", 2.0, 10)
    alert_get_rate: RateSpec = RateSpec("alert_get", 5.0, 10)
    compute_scan_rate: RateSpec = RateSpec("compute_scan", 1.0, 30)
    max_alert_limit: int = 10_000
    compute_page_default: int = 50
    compute_page_max: int = 250
    tick_s: float = 60.0
    console_url: str = "https://app.prismacloud.io"
    secret: bytes = b"prisma-simulator-signing-key"


@dataclass
class TokenInfo:
    user: str
    kind: str
    expires_at: float


class TokenStore:
    """Issued tokens (JWT-looking, HMAC-signed) with their owner and expiry."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._tokens: dict[str, TokenInfo] = {}
        self._serial = 0

    def issue(self, user: str, kind: str, now: float, ttl_s: float) -> str:
        self._serial += 1
        def enc(doc: dict[str, Any]) -> str:
            raw = json.dumps(doc, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        head = enc({"alg": "HS256", "typ": "JWT"})
        body = enc({"sub": user, "iss": "prisma-sim", "typ": kind, "iat": int(now),
                    "exp": int(now + ttl_s), "jti": self._serial})
        sig = base64.urlsafe_b64encode(
            hmac.new(self._secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        ).decode().rstrip("=")
        token = f"{head}.{body}.{sig}"
        self._tokens[token] = TokenInfo(user, kind, now + ttl_s)
        return token

    def lookup(self, token: str | None, now: float, kinds: tuple[str, ...]) -> TokenInfo | None:
        """The token's info when it exists, is of one of ``kinds`` and has not expired."""
        info = self._tokens.get(token or "")
        if info is None or info.kind not in kinds or info.expires_at <= now:
            return None
        return info

    def expire_all(self, now: float) -> int:
        for info in self._tokens.values():
            info.expires_at = min(info.expires_at, now)
        return len(self._tokens)


def rate_headers(spec: RateSpec, bucket: TokenBucket | None = None) -> dict[str, str]:
    """Prisma's documented rate-limit headers for ``spec``; ``Remaining`` from ``bucket`` (else 0)."""
    return {
        "X-RateLimit-Burst-Capacity": str(spec.burst),
        "X-RateLimit-Remaining": str(bucket.remaining() if bucket else 0),
        "X-RateLimit-Replenish-Rate": f"{spec.rate:g}",
        "X-RateLimit-Requested-Tokens": "1",
    }
