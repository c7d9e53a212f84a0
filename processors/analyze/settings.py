"""Settings of the analysis stage: gates, cache, limits, budget and the optional LLM endpoint.

Built by the streams layer and passed in; nothing here reads the environment. ``llm=None`` means no
LLM is configured and every analysis is offline.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connectors.llm.settings import LlmSettings
from processors.models import AlertStatus, RiskTier

__all__ = ["AnalyzerSettings"]


class AnalyzerSettings(BaseModel):
    """How the :class:`~processors.analyze.analyzer.Analyzer` decides, spends and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm: LlmSettings | None = Field(default=None, description="None: offline analyser only")
    prompt_id: str = "triage"
    prompt_version: str | None = Field(default=None, description="None: the highest locked version")

    # Stage gate (should_analyse): which scored alerts get an analysis at all.
    min_tier: RiskTier = RiskTier.MEDIUM
    min_score: int = Field(default=0, ge=0, le=100)
    statuses: frozenset[AlertStatus] = frozenset({AlertStatus.OPEN})
    # Cost gate: which of those may use the LLM; the rest are analysed offline.
    llm_min_tier: RiskTier = RiskTier.HIGH
    llm_min_score: int = Field(default=0, ge=0, le=100)

    cache_max_entries: int = Field(default=10_000, ge=0, description="0 disables the cache")
    cache_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0)

    max_concurrency: int = Field(default=4, ge=1, description="LLM calls in flight at once")
    rate_per_s: float = Field(default=2.0, gt=0, description="Token-bucket refill, LLM calls per second")
    rate_burst: int = Field(default=5, ge=1)
    rate_max_wait_s: float = Field(default=5.0, ge=0, description="Longer than this: answer offline")

    tokens_per_hour: int = Field(default=250_000, ge=0)
    tokens_per_day: int = Field(default=2_000_000, ge=0)

    retrieval_k: int = Field(default=3, ge=0, le=10)
    retrieval_min_score: float = Field(default=4.0, ge=0)

    dead_letter_invalid_output: bool = Field(
        default=False,
        description="True: raise AnalysisFailedError after the failed repair (the worker dead-letters);"
        " False: answer offline, labelled invalid_output.",
    )
