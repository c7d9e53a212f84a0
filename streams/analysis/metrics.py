"""Prometheus metrics of the analysis stage (``prismaflow_llm_*``).

One :class:`AnalysisMetrics` per registry: the analysis worker uses :meth:`AnalysisMetrics.default` (the
process-wide registry, created once); tests pass their own ``CollectorRegistry``. Labels are of low
cardinality (outcome, direction, reason), never an alert id.
"""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = ["AnalysisMetrics"]

_LOCK = threading.Lock()
_DEFAULT: AnalysisMetrics | None = None


class AnalysisMetrics:
    """Counters and the latency histogram of LLM use, caching, budget and offline fallbacks."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.calls = Counter("prismaflow_llm_calls_total", "LLM completion calls by outcome", ["outcome"], registry=reg)
        self.tokens = Counter("prismaflow_llm_tokens_total", "LLM tokens by direction (input/output)", ["direction"], registry=reg)
        self.cost = Counter("prismaflow_llm_cost_usd_total", "LLM spend in USD at the configured prices", registry=reg)
        self.latency = Histogram(
            "prismaflow_llm_latency_seconds", "Latency of one LLM completion call, SDK retries included",
            buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 40, 80), registry=reg,
        )
        self.cache_hits = Counter("prismaflow_llm_cache_hits_total", "Analyses reused from an alike finding", registry=reg)
        self.validation_failures = Counter(
            "prismaflow_llm_validation_failures_total", "Model answers that failed schema validation", registry=reg
        )
        self.budget_exhausted = Counter(
            "prismaflow_llm_budget_exhausted_total", "Analyses answered offline because the token budget was spent", registry=reg
        )
        self.offline_fallbacks = Counter(
            "prismaflow_llm_offline_fallbacks_total", "Analyses answered by the offline analyser, by reason", ["reason"], registry=reg
        )
        self.grounding_removals = Counter(
            "prismaflow_llm_grounding_removals_total", "Claims removed by grounding, by analyser", ["analyser"], registry=reg
        )

    @classmethod
    def default(cls) -> AnalysisMetrics:
        """The metrics on the process-wide registry (what the worker's /metrics serves), created once."""
        global _DEFAULT
        with _LOCK:
            if _DEFAULT is None:
                _DEFAULT = cls(REGISTRY)
            return _DEFAULT
