"""Cost control for the LLM stage, as pure logic and small classes (no Kafka, no I/O).

* :class:`AnalysisGate`: which scored alerts are analysed at all, and which may use the LLM.
* :func:`cache_key` and :class:`AnalysisCache`: alike findings (same prompt version, model, policy and
  configuration *shape*, never the resource id or account) reuse one analysis, which is then
  re-grounded with the new alert's identifiers (:func:`templatise` / :func:`instantiate`).
* :class:`TokenBucket`: the call-rate limit; :class:`TokenBudget`: tokens per clock hour and day.
* :func:`estimate_tokens`: the pre-call estimate the budget reserves (≈ characters / 4 + the output cap).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.llm.client import ChatMessage
from processors.analyze.draft import LlmAnalysisDraft, map_draft_strings
from processors.analyze.facts import AlertFacts
from processors.analyze.settings import AnalyzerSettings
from processors.models import RiskTier, ScoredAlert

__all__ = [
    "AnalysisCache",
    "AnalysisGate",
    "CachedDraft",
    "TokenBucket",
    "TokenBudget",
    "cache_key",
    "config_shape",
    "estimate_tokens",
    "instantiate",
    "templatise",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_TIER_RANK = {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2, RiskTier.CRITICAL: 3}
_FLAG_VALUE = re.compile(r"^(?:[A-Za-z_-]{1,24}|0\.0\.0\.0/0|::/0|\*)$")


class AnalysisGate:
    """The stage gate (``should_analyse``) and the stricter LLM gate (``llm_allowed``)."""

    def __init__(self, settings: AnalyzerSettings) -> None:
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


def config_shape(config: dict[str, Any], prefix: str = "", *, identifiers: frozenset[str] = frozenset()) -> list[str]:
    """Sorted key paths of a resource configuration, with the values of flag-like leaves.

    Booleans, short words (``optional``, ``Enabled``), world-open CIDRs, ``*`` and port numbers keep
    their value; names, ids, addresses and dates keep only their key, so two buckets with the same
    settings but different names have the same shape. Values in ``identifiers`` (the alert's own
    resource name, ids and account) never count as flags.
    """
    out: set[str] = set()
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(config_shape(value, path, identifiers=identifiers))
        elif isinstance(value, list):
            for item in value[:20]:
                if isinstance(item, dict):
                    out.update(config_shape(item, f"{path}[]", identifiers=identifiers))
                elif isinstance(item, str) and _FLAG_VALUE.match(item) and item not in identifiers:
                    out.add(f"{path}[]={item}")
            out.add(f"{path}[]")
        elif isinstance(value, bool) or value is None:
            out.add(f"{path}={json.dumps(value)}")
        elif isinstance(value, int | float) and "port" in path.lower() or isinstance(value, str) and _FLAG_VALUE.match(value) and value not in identifiers:
            out.add(f"{path}={value}")
        else:
            out.add(path)
    return sorted(out)


def cache_key(prompt_id: str, prompt_version: str, model: str, facts: AlertFacts) -> str:
    """sha256 over what makes two findings alike for analysis (see the module docstring)."""
    alert = facts.scored.alert
    shape = {
        "prompt": f"{prompt_id}@{prompt_version}",
        "model": model,
        "policy": alert.policy_id,
        "resource_type": alert.resource.resource_type.lower(),
        "cloud": alert.resource.cloud.value,
        "config": config_shape(facts.config, identifiers=frozenset(v for _, v in _identifier_slots(facts))),
        "context": [alert.enrichment.environment.value, alert.enrichment.internet_exposed,
                    alert.enrichment.data_sensitivity, alert.enrichment.criticality.value],
        "vulns": sorted((v.cve, v.package, v.fixed_version) for v in alert.vulnerabilities),
        "incident": bool(facts.scored.incident_id),
        # Runtime findings are about what happened, not a configuration: their text is the shape.
        "runtime": alert.description if alert.policy_type in ("workload_incident", "runtime") else "",
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def _identifier_slots(facts: AlertFacts) -> list[tuple[str, str]]:
    """(slot, value) for this alert's own identifiers, longest value first."""
    scored, resource = facts.scored, facts.scored.alert.resource
    short = re.split(r"[/:]", resource.resource_id)[-1] if resource.resource_id else ""
    pairs = [("asset_id", resource.asset_id), ("resource_id", resource.resource_id), ("resource_name", resource.name),
             ("short_id", short), ("account_id", resource.account_id), ("account_name", resource.account_name),
             ("alert_id", scored.alert.alert_id), ("incident_id", scored.incident_id or "")]
    return sorted(((s, v) for s, v in pairs if len(v) >= 3), key=lambda p: -len(p[1]))


def templatise(draft: LlmAnalysisDraft, facts: AlertFacts) -> LlmAnalysisDraft:
    """``draft`` with this alert's identifiers replaced by ``⟦slot⟧`` markers, ready to cache."""
    slots = _identifier_slots(facts)

    def replace(text: str) -> str:
        for slot, value in slots:
            text = text.replace(value, f"⟦{slot}⟧")
        return text

    return map_draft_strings(draft, replace)


def instantiate(draft: LlmAnalysisDraft, facts: AlertFacts) -> LlmAnalysisDraft:
    """A cached ``draft`` with the ``⟦slot⟧`` markers filled from another alert's identifiers."""
    values = dict(_identifier_slots(facts))
    return map_draft_strings(draft, lambda t: re.sub(r"⟦(\w+)⟧", lambda m: values.get(m.group(1), "unknown"), t))


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


def estimate_tokens(messages: Sequence[ChatMessage], max_output_tokens: int, *, calls: int = 1) -> int:
    """A pessimistic pre-call estimate: prompt characters / 4 (+ the schema) plus the output cap, per call."""
    prompt = sum(len(m["content"]) for m in messages) + 2500  # the JSON schema travels with the request
    return calls * (math.ceil(prompt / 4) + max_output_tokens)
