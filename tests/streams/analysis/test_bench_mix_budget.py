"""On the stream-core benchmark's alert mix, the LLM is called at most 10 times per 1,000 raw
alerts, while every alert scored in the top tier still gets an analysis."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.feeds.store import load_default_feeds
from connectors.llm.simulator import LlmSimulator
from connectors.prisma.simulator.traffic import raw_alert_stream
from processors.enrich import EnrichmentContext
from processors.errors import InvalidRecordError
from processors.models import RiskTier, ScoredAlert
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from processors.records import Analyser
from streams.analysis import AnalysisService, AnalysisSettings
from streams.static_inputs import load_scoring_policy


def _scored(n: int) -> list[ScoredAlert]:
    context, policy = EnrichmentContext(feeds=load_default_feeds()), load_scoring_policy()
    dedupe: dict[Any, Any] = {}
    assets: dict[str, Any] = {}
    out: list[ScoredAlert] = []
    for raw in raw_alert_stream(n, seed=5, now=datetime(2026, 11, 26, 12, tzinfo=UTC)):
        try:
            alert = normalise_and_enrich(raw, context)
        except InvalidRecordError:
            continue
        key = (alert.resource.asset_id, alert.alert_id)
        scored, after = process_for_asset(StageStates(dedupe=dedupe.get(key), asset=assets.get(alert.resource.asset_id)),
                                          alert, policy, alert.ingested_at)
        dedupe[key], assets[alert.resource.asset_id] = after.dedupe, after.asset
        if scored is not None:
            out.append(scored)
    return out


async def test_llm_calls_stay_under_ten_per_thousand_raw_alerts_and_the_top_tier_is_all_analysed(
    make_service: Callable[..., AnalysisService], sim: LlmSimulator,
) -> None:
    raw_count = 2500
    scored = _scored(raw_count)
    defaults = AnalysisSettings()  # the stage's shipped gates: analyse medium+, LLM for the top of critical
    service = make_service(llm=True, min_tier=defaults.min_tier, llm_min_tier=defaults.llm_min_tier,
                             llm_min_score=defaults.llm_min_score)
    top = [s for s in scored if s.tier is RiskTier.CRITICAL and s.alert.status.value == "open"]
    assert top, "the mix has top-tier alerts"
    analysed = {}
    for s in scored:
        if service.should_analyse(s):
            analysed[(s.alert.alert_id, s.update_kind)] = await service.analyse(s)
    for s in top:
        assert (s.alert.alert_id, s.update_kind) in analysed
    llm_written = sum(1 for a in analysed.values() if a.analyser is Analyser.LLM)
    calls = sum(n for route, n in sim.calls.items() if "chat/completions" in route)
    per_thousand = calls / raw_count * 1000
    print(f"raw={raw_count} scored={len(scored)} analysed={len(analysed)} top_tier={len(top)} "
          f"llm_calls={calls} per_1000_raw={per_thousand:.1f} llm_written={llm_written}")
    assert llm_written > 0
    assert per_thousand <= 10
