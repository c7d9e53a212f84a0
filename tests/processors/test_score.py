"""Specification of scoring (processors/score.py) and the scoring policy file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from connectors.feeds.store import load_default_feeds
from processors.correlate import CorrelationResult
from processors.enrich import EnrichmentContext, enrich
from processors.errors import ConfigurationError
from processors.models import (
    Alert,
    Criticality,
    Enrichment,
    Environment,
    Module,
    RiskTier,
    Severity,
    UpdateKind,
)
from processors.normalise import normalise
from processors.score import DismissalHistory, ScoringPolicy, score
from streams.static_inputs import EXAMPLE_OWNER_MAP_PATH, load_owner_map
from streams.static_inputs import DEFAULT_POLICY_PATH, load_scoring_policy
from tests.processors import payloads as p

NOW = datetime(2024, 6, 10, 15, 0, tzinfo=UTC)
POLICY = load_scoring_policy()
CTX = EnrichmentContext(feeds=load_default_feeds(), owners=load_owner_map(EXAMPLE_OWNER_MAP_PATH))
NONE = DismissalHistory()


def host() -> Alert:
    return enrich(normalise(p.raw("compute_api", p.compute_api("host_scan", p.compute_host_scan()))), CTX)


def test_factors_explain_the_score() -> None:
    # The first factor is new with the rubric (docs/scoring.md): it names the rule that set the tier
    # and contributes the tier's band floor; the seven weighted factors place the alert in the band.
    s = score(host(), None, NONE, POLICY, NOW)
    names = [f.name for f in s.factors]
    assert names == ["tier", "severity", "exploitability", "exposure", "criticality", "data_sensitivity",
                     "correlation", "environment"]
    assert s.score == round(sum(f.contribution for f in s.factors))
    assert all(0 <= f.value <= 1 and f.reason for f in s.factors)
    tier = s.factors[0]
    assert s.tier is RiskTier.HIGH and tier.contribution == POLICY.tiers.high and "H2" in tier.reason
    exploit = s.factors[2]
    assert exploit.value == 1.0 and p.KEV_CVE in exploit.reason and "KEV" in exploit.reason
    assert s.update_kind is UpdateKind.NEW and s.scored_at == NOW
    assert s.incident_id is None and not s.suggested_dismissal


def test_score_lies_in_its_tier_band_so_a_higher_tier_always_ranks_higher() -> None:
    base = host()
    lowest_possible_critical = base.model_copy(update={"enrichment": base.enrichment.model_copy(update={
        "internet_exposed": True, "criticality": Criticality.LOW, "data_sensitivity": "public",
        "environment": Environment.UNKNOWN})})
    richest_high = base.model_copy(update={"enrichment": base.enrichment.model_copy(update={
        "criticality": Criticality.CRITICAL, "data_sensitivity": "restricted", "environment": Environment.PROD})})
    corr = CorrelationResult("inc-1", ("a", "b"), frozenset({Module.CSPM, Module.CWPP}), True, "2 open findings")
    critical = score(lowest_possible_critical, None, NONE, POLICY, NOW)
    high = score(richest_high, corr, NONE, POLICY, NOW)
    assert (critical.tier, high.tier) == (RiskTier.CRITICAL, RiskTier.HIGH)
    assert POLICY.tiers.critical <= critical.score <= 100
    assert POLICY.tiers.high <= high.score < POLICY.tiers.critical
    assert critical.score > high.score


def test_another_finding_showing_the_asset_exposed_makes_it_internet_facing() -> None:
    alert = host()  # a KEV CVE, no exposure in its own data: H2
    assert not alert.enrichment.internet_exposed
    lone = CorrelationResult("inc-1", ("a", "b"), frozenset({Module.CWPP}), False, "2 open findings", frozenset({"iam"}))
    exposed = CorrelationResult("inc-1", ("a", "b"), frozenset({Module.CSPM, Module.CWPP}), True, "x",
                                frozenset({"exposure", "exploitable"}))
    assert score(alert, lone, NONE, POLICY, NOW).tier is RiskTier.HIGH
    s = score(alert, exposed, NONE, POLICY, NOW)
    assert s.tier is RiskTier.CRITICAL and "C3" in s.factors[0].reason
    assert "another open finding" in next(f for f in s.factors if f.name == "exposure").reason


def test_score_tracks_risk() -> None:
    base = host()
    calm = base.model_copy(update={"severity": Severity.LOW, "vulnerabilities": [], "enrichment": Enrichment()})
    hot = base.model_copy(update={"enrichment": base.enrichment.model_copy(update={"internet_exposed": True})})
    corr = CorrelationResult("inc-1", ("a", "b"), frozenset({Module.CSPM, Module.CWPP}), True, "2 open findings")
    s_calm, s_base = score(calm, None, NONE, POLICY, NOW), score(base, None, NONE, POLICY, NOW)
    s_hot, s_corr = score(hot, None, NONE, POLICY, NOW), score(hot, corr, NONE, POLICY, NOW)
    assert s_calm.score < s_base.score < s_hot.score < s_corr.score
    assert s_calm.tier is RiskTier.LOW and s_base.tier is RiskTier.HIGH
    assert s_hot.tier is RiskTier.CRITICAL and s_corr.tier is RiskTier.CRITICAL  # correlation ranks, never re-tiers
    assert s_corr.incident_id == "inc-1" and s_corr.incident_members == ["a", "b"]
    assert "cross-module" in next(f for f in s_corr.factors if f.name == "correlation").reason


def test_non_production_is_capped() -> None:
    base = host()
    hot = base.model_copy(update={"enrichment": base.enrichment.model_copy(update={"internet_exposed": True})})
    dev = hot.model_copy(update={"enrichment": hot.enrichment.model_copy(update={"environment": Environment.DEV})})
    corr = CorrelationResult("inc-1", ("a", "b"), frozenset({Module.CSPM, Module.CWPP}), True, "x")
    assert score(hot, corr, NONE, POLICY, NOW).tier is RiskTier.CRITICAL
    s_dev = score(dev, corr, NONE, POLICY, NOW)
    assert s_dev.tier is RiskTier.HIGH and s_dev.score < score(hot, corr, NONE, POLICY, NOW).score


def test_runtime_incident_counts_as_exploitation() -> None:
    inc = enrich(normalise(p.raw("compute_api", p.compute_api("incident", p.compute_incident()))), CTX)
    factor = next(f for f in score(inc, None, NONE, POLICY, NOW).factors if f.name == "exploitability")
    assert factor.value == 1.0 and "runtime" in factor.reason


def test_dismissal_history_suggests_dismissal() -> None:
    alert = host()
    history = DismissalHistory().with_dismissal(alert.policy_id, "aws:123456789012:*:instance/*")
    assert history.with_dismissal(alert.policy_id, "aws:123456789012:*:instance/*") is history
    s = score(alert, None, history, POLICY, NOW)
    assert s.suggested_dismissal and "dismissed before" in s.suggestion_reason
    assert s.tier is RiskTier.HIGH and "never noise" in s.factors[0].reason  # a KEV CVE keeps its tier (G2)
    no_kev = alert.model_copy(update={
        "vulnerabilities": [v.model_copy(update={"in_kev": False, "epss": 0.01}) for v in alert.vulnerabilities],
        "enrichment": alert.enrichment.model_copy(update={"in_kev": False, "exploitability": 0.01})})
    quiet = score(no_kev, None, history, POLICY, NOW)
    assert quiet.suggested_dismissal and quiet.tier is RiskTier.LOW and "G2" in quiet.factors[0].reason
    assert not score(alert, None, DismissalHistory().with_dismissal("other", "*"), POLICY, NOW).suggested_dismissal
    by_name = DismissalHistory().with_dismissal(alert.policy_id, "ip-10-20-*")
    assert score(alert, None, by_name, POLICY, NOW).suggested_dismissal


def _doc() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(DEFAULT_POLICY_PATH.read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["weights"].update(severity=31), "add up to 100"),
        (lambda d: d["weights"].update(novelty=0), "novelty"),
        (lambda d: d["severity_values"].pop("low"), "lacks"),
        (lambda d: d["environment_values"].update(prod=1.5), "within 0-1"),
        (lambda d: d["tiers"].update(high=90), "critical >= high"),
        (lambda d: d["tiers"].update(medium=0), "at least one point"),
        (lambda d: d["correlation"].update(window_hours=0), "window_hours"),
        (lambda d: d["rubric"].update(likely_exploited_epss=2), "likely_exploited_epss"),
        (lambda d: d["rubric"]["environments"].update(dev={"step_down": 1, "mood": "calm"}), "mood"),
        (lambda d: d["rubric"]["environments"].update(qa={"step_down": 1}), "qa"),
        (lambda d: d.update(non_prod_max_tier="high"), "non_prod_max_tier"),
    ],
)
def test_policy_rejects_bad_files(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = _doc()
    mutate(doc)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigurationError, match=message):
        load_scoring_policy(tmp_path / "s.yaml")


def test_shipped_policy_round_trips() -> None:
    assert ScoringPolicy.model_validate(_doc()) == POLICY
    assert POLICY.correlation.window_hours == 24
    assert POLICY.rubric.likely_exploited_epss == 0.1
    assert POLICY.rubric.environments[Environment.STAGING].max_tier is RiskTier.HIGH


def test_a_policy_without_a_rubric_section_gets_the_documented_defaults(tmp_path: Path) -> None:
    doc = _doc()
    del doc["rubric"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    assert load_scoring_policy(tmp_path / "s.yaml").rubric == POLICY.rubric
