"""The analysis stage has one settings model, which is its section of the settings tree; the LLM endpoint is the
connector's own model, the tree's llm section, used only with an API key."""

from __future__ import annotations

import pytest

from processors.models import RiskTier
from streams.analysis import AnalysisSettings
from streams.compose import analysis_settings
from streams.config import load_settings


def test_the_llm_gate_defaults_to_what_the_readme_documents() -> None:
    defaults = AnalysisSettings()
    assert (defaults.min_tier, defaults.llm_min_tier, defaults.llm_min_score) == (RiskTier.MEDIUM, RiskTier.CRITICAL, 95)


def test_the_environment_binding_shares_every_default_with_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MIN_TIER", "LLM_MIN_TIER", "LLM_MIN_SCORE", "TOKENS_PER_HOUR", "TOKENS_PER_DAY", "MAX_CONCURRENCY",
                 "API_KEY"):
        monkeypatch.delenv(f"PRISMAFLOW_LLM_{name}", raising=False)

    assert load_settings().analysis == AnalysisSettings()
    assert analysis_settings(load_settings()) == AnalysisSettings()  # no API key: offline, llm is None


def test_an_api_key_configures_the_llm_and_set_values_reach_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_LLM_LLM_MIN_SCORE", "80")
    monkeypatch.setenv("PRISMAFLOW_LLM_API_KEY", "k")
    monkeypatch.setenv("PRISMAFLOW_LLM_MODEL", "m")

    settings = analysis_settings(load_settings())

    assert settings.llm is not None and settings.llm.model == "m"
    assert settings.llm_min_score == 80 and settings.llm_min_tier is RiskTier.CRITICAL
