"""Specification of scoring (processors/score.py) and the scoring policy file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from processors.correlate import CorrelationResult
from processors.enrich import (
    EnrichmentContext,
    enrich,
    load_default_feeds,
    load_owner_map,
)
from processors.enrich.feeds import DATA_DIR
from processors.errors import ConfigurationError
from processors.models import (
    Alert,
    Enrichment,
    Environment,
    Module,
    RiskTier,
    Severity,
    UpdateKind,
)
from processors.normalise import normalise
from processors.score import (
    DEFAULT_POLICY_PATH,
    DismissalHistory,
    ScoringPolicy,
    load_scoring_policy,
    score,
)
from tests.processors import payloads as p

NOW = datetime(2024, 6, 10, 15, 0, tzinfo=UTC)
POLICY = load_scoring_policy()
CTX = EnrichmentContext(feeds=load_default_feeds(), owners=load_owner_map(DATA_DIR / "owners.example.yaml"))
NONE = DismissalHistory()


def host() -> Alert:
    return enrich(normalise(p.raw("compute_api", p.compute_api("host_scan", p.compute_host_scan()))), CTX)


def test_factors_explain_the_score() -> None:
    s = score(host(), None, NONE, POLICY, NOW)
    names = [f.name for f in s.factors]
    assert names == ["severity", "exploitability", "exposure", "criticality", "data_sensitivity", "correlation", "environment"]
    assert s.score == round(sum(f.contribution for f in s.factors))
    assert all(0 <= f.value <= 1 and f.reason for f in s.factors)
    exploit = s.factors[1]
    assert exploit.value == 1.0 and p.KEV_CVE in exploit.reason and "KEV" in exploit.reason
    assert s.update_kind is UpdateKind.NEW and s.scored_at == NOW
    assert s.incident_id is None and not s.suggested_dismissal


def test_score_tracks_risk() -> None:
    base = host()
    calm = base.model_copy(update={"severity": Severity.LOW, "vulnerabilities": [], "enrichment": Enrichment()})
    hot = base.model_copy(update={"enrichment": base.enrichment.model_copy(update={"internet_exposed": True})})
    corr = CorrelationResult("inc-1", ("a", "b"), frozenset({Module.CSPM, Module.CWPP}), True, "2 open findings")
    s_calm, s_base = score(calm, None, NONE, POLICY, NOW), score(base, None, NONE, POLICY, NOW)
    s_hot, s_corr = score(hot, None, NONE, POLICY, NOW), score(hot, corr, NONE, POLICY, NOW)
    assert s_calm.score < s_base.score < s_hot.score < s_corr.score
    assert s_calm.tier is RiskTier.LOW and s_corr.tier is RiskTier.CRITICAL
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
        (lambda d: d["correlation"].update(window_hours=0), "window_hours"),
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
