"""Settings of the analysis stage: one model, :class:`AnalysisSettings`.

:class:`AnalysisSettings` is the one place that says how the stage decides, spends and limits (gates,
cache, rate limit, token budget, retrieval, the optional LLM endpoint) and holds every default. The
service takes it; nothing else carries a copy. It is the ``analysis`` section of the settings tree
(:class:`streams.config.PrismaflowSettings`, ``PRISMAFLOW_LLM_*``); the endpoint is the tree's ``llm``
section, :class:`~connectors.llm.settings.LlmSettings` (same prefix), which the composition root puts
in ``llm`` when it has an API key (:func:`streams.compose.analysis_settings`).

The LLM cost gate defaults to what the README documents and ``prismaflow run analyse`` has always
run with: the LLM writes analyses from tier CRITICAL and score 95 up, the rest are written offline.
(A second copy of these settings in ``processors/analyze/settings.py`` defaulted to HIGH and 0; it is
gone.)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connectors.llm.settings import LlmSettings
from processors.models import AlertStatus, RiskTier

__all__ = ["AnalysisSettings"]


class AnalysisSettings(BaseModel):
    """How the :class:`~streams.analysis.service.AnalysisService` decides, spends and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm: LlmSettings | None = Field(default=None, description="None: offline analyser only")
    prompt_id: str = Field(default="triage", description="Prompt the LLM is given (prompts shipped in the package)")
    prompt_version: str | None = Field(default=None, description="Version of that prompt; unset: the highest locked one")

    # Stage gate (should_analyse): which scored alerts get an analysis at all.
    min_tier: RiskTier = Field(default=RiskTier.MEDIUM, description="Alerts from this tier up get an analysis")
    min_score: int = Field(default=0, ge=0, le=100, description="...and from this score up")
    statuses: frozenset[AlertStatus] = frozenset({AlertStatus.OPEN})
    # Cost gate: which of those may use the LLM; the rest are analysed offline. 95 is the top of the
    # CRITICAL band (80-100), which keeps the LLM within ~10 calls per 1,000 raw alerts.
    llm_min_tier: RiskTier = Field(
        default=RiskTier.CRITICAL, description="Of those, from this tier up the LLM writes it (others: offline)")
    llm_min_score: int = Field(
        default=95, ge=0, le=100, description="...and from this score up (95: the top of the CRITICAL band 80-100, "
        "keeping the LLM within ~10 calls per 1,000 raw alerts)")

    cache_max_entries: int = Field(
        default=10_000, ge=0, description="Analyses of alike findings remembered for reuse; 0 disables the cache")
    cache_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0, description="How long a remembered analysis is reused")

    max_concurrency: int = Field(default=4, ge=1, description="LLM calls in flight at once")
    rate_per_s: float = Field(default=2.0, gt=0, description="Token-bucket refill, LLM calls per second")
    rate_burst: int = Field(default=5, ge=1, description="LLM calls the token bucket allows at once")
    rate_max_wait_s: float = Field(
        default=5.0, ge=0, description="Longest wait for the rate limit; longer: answer offline")

    tokens_per_hour: int = Field(default=250_000, ge=0, description="LLM token budget per hour; beyond it: offline")
    tokens_per_day: int = Field(default=2_000_000, ge=0, description="LLM token budget per day")

    retrieval_k: int = Field(default=3, ge=0, le=10, description="Knowledge documents retrieved into a prompt")
    retrieval_min_score: float = Field(default=4.0, ge=0, description="Lowest retrieval score a document needs")

    dead_letter_invalid_output: bool = Field(
        default=False,
        description="On: an LLM answer still invalid after the repair attempt is dead-lettered; off: the "
        "analysis is written offline, labelled invalid_output",
    )
