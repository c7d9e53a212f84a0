"""What the analysis stage may spend, and on what: its gates, the alike-findings cache, the call-rate
limit and the token budget. Stateful, on injectable clocks (the service passes its own, tests fakes).

* :class:`AnalysisGate`: which scored alerts are analysed at all, and which may use the LLM.
* :class:`AnalysisCache`: LRU with a time-to-live of grounded, templatised drafts, keyed by
  :func:`processors.analyze.cost.cache_key` (alike findings share one entry).
* :class:`TokenBucket`: the call-rate limit; :class:`TokenBudget`: tokens per clock hour and UTC day,
  reserved with :func:`processors.analyze.cost.estimate_tokens` and settled with the reported usage.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from processors.analyze.draft import LlmAnalysisDraft
from processors.models import RiskTier, ScoredAlert
from streams.analysis.settings import AnalysisSettings

__all__ = ["AnalysisCache", "AnalysisGate", "CachedDraft", "TokenBucket", "TokenBudget"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_TIER_RANK = {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2, RiskTier.CRITICAL: 3}


class AnalysisGate:
    """The stage gate (``should_analyse``) and the stricter LLM gate (``llm_allowed``)."""

    def __init__(self, settings: AnalysisSettings) -> None:
        self.settings = settings

    def should_analyse(self, scored: ScoredAlert) -> bool:
        """True when the alert is in an analysed status and at or above ``min_tier`` and ``min_score``.

        A member re-emitted only because its incident changed (``incident_update``) is not analysed
        again: the finding did not change, and the record that changed the incident is analysed.
        """
        s = self.settings
        return (
            not scored.incident_update
            and scored.alert.status in s.statuses
            and _TIER_RANK[scored.tier] >= _TIER_RANK[s.min_tier]
            and scored.score >= s.min_score
        )

    def llm_allowed(self, scored: ScoredAlert) -> bool:
        """True when the alert is important enough to spend LLM tokens on."""
        s = self.settings
        return _TIER_RANK[scored.tier] >= _TIER_RANK[s.llm_min_tier] and scored.score >= s.llm_min_score


@dataclass(frozen=True)
class CachedDraft:
    """A grounded, templatised draft and where it came from."""

    draft: LlmAnalysisDraft
    model: str
    prompt_id: str
    prompt_version: str
    stored_at: float


class AnalysisCache:
    """LRU with a time-to-live, in memory (one worker process; lost on restart, which only costs tokens)."""

    def __init__(self, max_entries: int, ttl_s: float, *, clock: Clock = time.monotonic) -> None:
        self.max_entries, self.ttl_s, self._clock = max_entries, ttl_s, clock
        self._items: OrderedDict[str, CachedDraft] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> CachedDraft | None:
        item = self._items.get(key)
        if item is None:
            return None
        if self._clock() - item.stored_at > self.ttl_s:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item

    def put(self, key: str, draft: LlmAnalysisDraft, *, model: str, prompt_id: str, prompt_version: str) -> None:
        if self.max_entries == 0:
            return
        self._items[key] = CachedDraft(draft, model, prompt_id, prompt_version, self._clock())
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)


class TokenBucket:
    """Call-rate limit: ``rate_per_s`` refill, ``burst`` capacity, on an injectable clock."""

    def __init__(self, rate_per_s: float, burst: int, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.rate, self.capacity = rate_per_s, float(burst)
        self._tokens, self._clock, self._sleep = float(burst), clock, sleep
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def try_acquire(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    async def acquire(self, max_wait_s: float) -> bool:
        """Take one token, waiting at most ``max_wait_s``; False when it would take longer."""
        self._refill()
        wait = (1.0 - self._tokens) / self.rate if self._tokens < 1.0 else 0.0
        if wait > max_wait_s:
            return False
        if wait > 0:
            await self._sleep(wait)
            self._refill()
        self._tokens = max(0.0, self._tokens - 1.0)
        return True


class TokenBudget:
    """Tokens allowed per clock hour and per UTC day; reserve an estimate, then settle the actual use."""

    def __init__(self, per_hour: int, per_day: int, *, clock: Clock = time.time) -> None:
        self.per_hour, self.per_day, self._clock = per_hour, per_day, clock
        self._hour = self._day = -1
        self.used_hour = self.used_day = 0

    def _roll(self) -> None:
        now = self._clock()
        hour, day = int(now // 3600), int(now // 86400)
        if hour != self._hour:
            self._hour, self.used_hour = hour, 0
        if day != self._day:
            self._day, self.used_day = day, 0

    def reserve(self, tokens: int) -> bool:
        """Count ``tokens`` against both windows if both can take them; False (nothing counted) if not."""
        self._roll()
        if self.used_hour + tokens > self.per_hour or self.used_day + tokens > self.per_day:
            return False
        self.used_hour += tokens
        self.used_day += tokens
        return True

    def settle(self, reserved: int, actual: int) -> None:
        """Replace a reservation by the tokens the endpoint reported (``response.usage``)."""
        self._roll()
        delta = actual - reserved
        self.used_hour = max(0, self.used_hour + delta)
        self.used_day = max(0, self.used_day + delta)
