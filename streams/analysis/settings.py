"""Settings of the analysis stage: one model, :class:`AnalysisSettings`, and its environment binding.

:class:`AnalysisSettings` is the one place that says how the stage decides, spends and limits (gates,
cache, rate limit, token budget, retrieval, the optional LLM endpoint) and holds every default. The
service takes it; nothing else carries a copy. :class:`AnalysisStageSettings` is the stage's section of
the settings tree (:class:`streams.config.PrismaflowSettings`, ``PRISMAFLOW_LLM_*``): the part of it an
operator sets; it builds an :class:`AnalysisSettings`, and its defaults are read from the model, so the
two cannot drift.

The LLM cost gate defaults to what the README documents and ``prismaflow run analyse`` has always
run with: the LLM writes analyses from tier CRITICAL and score 95 up, the rest are written offline.
(A second copy of these settings in ``processors/analyze/settings.py`` defaulted to HIGH and 0; it is
gone.)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.llm.settings import LlmSettings
from processors.models import AlertStatus, RiskTier
from streams.settings import SettingsSection

__all__ = ["AnalysisSettings", "AnalysisStageSettings"]


class AnalysisSettings(BaseModel):
    """How the :class:`~streams.analysis.service.AnalysisService` decides, spends and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm: LlmSettings | None = Field(default=None, description="None: offline analyser only")
    prompt_id: str = "triage"
    prompt_version: str | None = Field(default=None, description="None: the highest locked version")

    # Stage gate (should_analyse): which scored alerts get an analysis at all.
    min_tier: RiskTier = RiskTier.MEDIUM
    min_score: int = Field(default=0, ge=0, le=100)
    statuses: frozenset[AlertStatus] = frozenset({AlertStatus.OPEN})
    # Cost gate: which of those may use the LLM; the rest are analysed offline. 95 is the top of the
    # CRITICAL band (80-100), which keeps the LLM within ~10 calls per 1,000 raw alerts.
    llm_min_tier: RiskTier = RiskTier.CRITICAL
    llm_min_score: int = Field(default=95, ge=0, le=100)

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


def _default(name: str) -> Any:
    """The default of :class:`AnalysisSettings` field ``name``: the stage section's default too."""
    return AnalysisSettings.model_fields[name].default


def _llm_default(name: str) -> Any:
    """The default of :class:`LlmSettings` field ``name``: the stage section's default too."""
    return LlmSettings.model_fields[name].default


class AnalysisStageSettings(SettingsSection):
    """The analysis stage: which alerts it explains, and the optional OpenAI-compatible endpoint."""

    base_url: str = Field(default=_llm_default("base_url"), description="OpenAI-compatible endpoint (Azure, vLLM, Ollama: their /v1 URL)")
    model: str = Field(default="gpt-4o-mini", description="Model or deployment name")
    api_key: SecretStr | None = Field(default=None, description="API key (secret); unset: offline analyser only")
    timeout_s: float = Field(default=_llm_default("timeout_s"), gt=0, description="Per request")
    max_retries: int = Field(default=_llm_default("max_retries"), ge=0, le=10, description="The SDK's own retries (429/5xx/timeouts); no others stack on them")
    min_tier: RiskTier = Field(default=_default("min_tier"), description="Alerts from this tier up get an analysis")
    llm_min_tier: RiskTier = Field(default=_default("llm_min_tier"), description="Of those, from this tier up the LLM writes it (others: offline)")
    llm_min_score: int = Field(default=_default("llm_min_score"), ge=0, le=100, description="...and from this score up (95: the top of the CRITICAL band 80-100, keeping the LLM within ~10 calls per 1,000 raw alerts)")
    tokens_per_hour: int = Field(default=_default("tokens_per_hour"), ge=0, description="LLM token budget per hour; beyond it: offline")
    tokens_per_day: int = Field(default=_default("tokens_per_day"), ge=0, description="LLM token budget per day")
    max_concurrency: int = Field(default=_default("max_concurrency"), ge=1, description="LLM calls in flight at once")

    def analysis_settings(self) -> AnalysisSettings:
        """The stage's :class:`AnalysisSettings`: these values, the model's defaults for the rest."""
        llm = None
        if self.api_key is not None:
            llm = LlmSettings(base_url=self.base_url, model=self.model, api_key=self.api_key,
                              timeout_s=self.timeout_s, max_retries=self.max_retries)
        return AnalysisSettings(llm=llm, min_tier=self.min_tier, llm_min_tier=self.llm_min_tier,
                                llm_min_score=self.llm_min_score,
                                tokens_per_hour=self.tokens_per_hour, tokens_per_day=self.tokens_per_day,
                                max_concurrency=self.max_concurrency)
