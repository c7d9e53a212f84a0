"""The Jira simulator's moving parts: configuration, injected faults and the per-user rate limit.

The clock and the per-route call counter are the Prisma simulator's (:class:`SimClock`,
:class:`Stats`), so every simulator moves time and counts calls the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.prisma.simulator.runtime import SimClock, Stats

__all__ = ["Fault", "FaultKind", "RateBucket", "SimClock", "SimConfig", "Stats"]

FaultKind = Literal["5xx", "429", "slow"]


@dataclass
class SimConfig:
    """How the simulated Jira behaves; every [U] choice in the reference is a knob here.

    ``users`` are basic-auth credentials (e-mail → API token), ``bearer_tokens`` map a PAT or
    OAuth token to its user. ``read_only_users`` may read but get 403 on every write.
    ``indexed_properties`` lists the entity-property keys JQL can see: empty by default, as on a
    Cloud site without an app declaring them.
    """

    flavour: Literal["cloud", "datacenter"] = "cloud"
    base_url: str = "https://prismaflow-sim.atlassian.net"
    users: dict[str, str] = field(default_factory=lambda: {
        "bot@example.com": "sim-api-token", "viewer@example.com": "sim-viewer-token"})
    bearer_tokens: dict[str, str] = field(default_factory=lambda: {"sim-pat": "bot@example.com"})
    read_only_users: frozenset[str] = frozenset({"viewer@example.com"})
    projects: dict[str, str] = field(default_factory=lambda: {
        "SEC": "Security", "OPS": "Operations", "PLAT": "Platform"})
    issue_types: tuple[str, ...] = ("Task", "Bug", "Story", "Epic")
    priorities: tuple[str, ...] = ("Highest", "High", "Medium", "Low", "Lowest")
    components: frozenset[str] | None = None
    assignable: frozenset[str] | None = None
    indexed_properties: frozenset[str] = frozenset()
    legacy_search_status: int = 410
    rate_limits: bool = True
    rate_per_s: float = 10.0
    burst: int = 100
    max_results_cap: int = 100
    id_only_max_results: int = 5000
    first_issue_id: int = 10_000


@dataclass
class Fault:
    """An injected failure on ``route`` (a template, a path or ``*``).

    Lasts for ``count`` calls, or, when ``duration_s`` is set, for that many simulated seconds from
    when it was added (``until`` is filled in then): "Jira is down for a minute".
    """

    kind: FaultKind = "5xx"
    route: str = "*"
    count: int = 1
    status: int = 503
    duration_s: float | None = None
    delay_s: float = 0.0
    retry_after_s: float | None = None
    method: str | None = None
    until: float | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        allowed = {"kind", "route", "count", "status", "duration_s", "delay_s", "retry_after_s",
                   "method"}
        unknown = set(raw) - allowed
        if unknown or raw.get("kind", "5xx") not in ("5xx", "429", "slow"):
            raise ValueError(f"bad fault {raw!r}")
        fault = cls(**raw)
        if fault.kind == "5xx" and not 500 <= fault.status <= 599:
            raise ValueError("a 5xx fault needs a 5xx status")
        return fault

    def matches(self, method: str, template: str, path: str, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.method and self.method.upper() != method:
            return False
        return self.route in ("*", template, path)

    def expired(self, now: float) -> bool:
        if self.duration_s is not None:
            return self.until is not None and now >= self.until
        return self.count <= 0


class RateBucket:
    """One user's token bucket on the simulator clock, with Jira's rate-limit headers."""

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self) -> int:
        return max(1, math.ceil((1.0 - self.tokens) / self.rate))

    def headers(self, now: float, *, limited: bool) -> dict[str, str]:
        """``X-RateLimit-*`` always; on a 429 also ``Retry-After``, ``Beta-Retry-After``,
        ``X-RateLimit-Reset`` (``yyyy-MM-ddTHH:mmZ``) and ``RateLimit-Reason``."""
        remaining = max(0, math.floor(self.tokens))
        headers = {"X-RateLimit-Limit": str(self.burst), "X-RateLimit-Remaining": str(remaining)}
        if remaining < 0.2 * self.burst:
            headers["X-RateLimit-NearLimit"] = "true"
        if limited:
            wait = self.wait_s()
            reset = datetime.fromtimestamp(now + wait, UTC).strftime("%Y-%m-%dT%H:%MZ")
            headers.update({"Retry-After": str(wait), "Beta-Retry-After": str(wait),
                            "X-RateLimit-Reset": reset, "RateLimit-Reason": "jira-burst-based"})
        return headers
