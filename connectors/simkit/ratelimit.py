"""A token bucket on the simulator clock: the rate limit most of the simulated services enforce.

Each simulator turns a refusal into its own service's answer and headers (Prisma Cloud's
``X-RateLimit-*``, Jira's ``Beta-Retry-After``, Slack's plain ``rate_limited``).
"""

from __future__ import annotations

import math

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``burst`` saved; full when created at ``now``.

    Time is whatever clock the simulator passes in, so a test's fake sleep refills it.
    """

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> bool:
        """Take one token if there is one (after refilling up to ``now``)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def remaining(self) -> int:
        return max(0, math.floor(self.tokens))

    def wait_s(self) -> float:
        """Seconds until the next token."""
        return (1.0 - self.tokens) / self.rate

    def retry_after_s(self) -> int:
        """:meth:`wait_s` as a ``Retry-After`` value: whole seconds, at least one."""
        return max(1, math.ceil(self.wait_s()))
