"""The simulator's moving parts: clock, configuration, tokens, rate limits, faults and stats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Fault",
    "FaultKind",
    "RateSpec",
    "SimClock",
    "SimConfig",
    "Stats",
    "TokenBucket",
    "TokenStore",
]

FaultKind = Literal["5xx", "429", "slow", "expire_tokens", "401"]


class SimClock:
    """Seconds since the epoch: ``base()`` plus whatever :meth:`advance` added.

    Tests pass ``base=lambda: 1_718_010_000.0`` for a frozen, fully controlled clock; the served
    simulator uses the wall clock so tokens expire in real time.
    """

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self._offset = 0.0

    def now(self) -> float:
        return self._base() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds

    async def sleep(self, seconds: float) -> None:
        """An ``asyncio.sleep`` stand-in for clients under test: moves this clock instead."""
        self.advance(seconds)


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


class TokenBucket:
    """Token bucket on the simulator clock (so a test's fake sleep refills it)."""

    def __init__(self, spec: RateSpec, now: float) -> None:
        self.spec = spec
        self.tokens = float(spec.burst)
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.spec.burst, self.tokens + (now - self.updated) * self.spec.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def headers(self) -> dict[str, str]:
        """Prisma's documented rate-limit headers."""
        return {
            "X-RateLimit-Burst-Capacity": str(self.spec.burst),
            "X-RateLimit-Remaining": str(max(0, math.floor(self.tokens))),
            "X-RateLimit-Replenish-Rate": f"{self.spec.rate:g}",
            "X-RateLimit-Requested-Tokens": "1",
        }

    def wait_s(self) -> int:
        return max(1, math.ceil((1.0 - self.tokens) / self.spec.rate))


@dataclass
class Fault:
    """An injected failure for the next ``count`` calls to ``route`` (template, path or ``*``)."""

    route: str
    kind: FaultKind
    count: int = 1
    delay_s: float = 0.0
    status: int = 503
    retry_after_s: float | None = None
    method: str | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        allowed = {"route", "kind", "count", "delay_s", "status", "retry_after_s", "method"}
        unknown = set(raw) - allowed
        if unknown or raw.get("kind") not in ("5xx", "429", "slow", "expire_tokens", "401"):
            raise ValueError(f"bad fault {raw!r}")
        return cls(**raw)

    def matches(self, method: str, template: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return self.route in ("*", template, path)


class Stats:
    """Per-route call and status counts, keyed ``"METHOD /template"``."""

    def __init__(self) -> None:
        self.routes: dict[str, dict[str, Any]] = {}

    def call(self, key: str) -> None:
        self.routes.setdefault(key, {"calls": 0, "statuses": {}})["calls"] += 1

    def status(self, key: str, status: int) -> None:
        statuses = self.routes.setdefault(key, {"calls": 0, "statuses": {}})["statuses"]
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    def calls(self, key: str) -> int:
        return int(self.routes.get(key, {}).get("calls", 0))

    def as_json(self) -> dict[str, Any]:
        return {"routes": self.routes}
