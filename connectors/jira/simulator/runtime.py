"""The Jira simulator's moving parts: configuration, its fault format and the rate-limit headers.

The clock, faults, stats and the token bucket are the simulator kit's (:mod:`connectors.simkit`),
so every simulator moves time, fails and counts calls the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from connectors.simkit import Fault, FaultRules, SimClock, TokenBucket

__all__ = ["FAULT_RULES", "Fault", "SimClock", "SimConfig", "rate_headers"]


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


def _needs_5xx_status(fault: Fault) -> str | None:
    if fault.kind == "5xx" and not 500 <= fault.status <= 599:
        return "a 5xx fault needs a 5xx status"
    return None


FAULT_RULES = FaultRules(
    kinds=frozenset({"5xx", "429", "slow", "lost_answer"}),
    fields=("kind", "route", "count", "status", "duration_s", "delay_s", "retry_after_s", "method"),
    defaults={"kind": "5xx"},
    check=_needs_5xx_status,
)
"""Jira's faults: ``5xx`` (``status``), ``429`` (with Jira's rate-limit headers), ``slow`` (the answer
waits ``delay_s`` before the work) or ``lost_answer`` (the work is done, then the answer waits
``delay_s``: a client that times out meanwhile does not know its issue was created), for ``count``
calls or, with ``duration_s``, for that many simulated seconds ("Jira is down")."""


def rate_headers(bucket: TokenBucket, now: float, *, limited: bool) -> dict[str, str]:
    """``X-RateLimit-*`` always; on a 429 also ``Retry-After``, ``Beta-Retry-After``,
    ``X-RateLimit-Reset`` (``yyyy-MM-ddTHH:mmZ``) and ``RateLimit-Reason``."""
    remaining = bucket.remaining()
    headers = {"X-RateLimit-Limit": str(bucket.burst), "X-RateLimit-Remaining": str(remaining)}
    if remaining < 0.2 * bucket.burst:
        headers["X-RateLimit-NearLimit"] = "true"
    if limited:
        wait = bucket.retry_after_s()
        reset = datetime.fromtimestamp(now + wait, UTC).strftime("%Y-%m-%dT%H:%MZ")
        headers.update({"Retry-After": str(wait), "Beta-Retry-After": str(wait),
                        "X-RateLimit-Reset": reset, "RateLimit-Reason": "jira-burst-based"})
    return headers
