"""The tier evaluation (processors/tier_evaluation) and the labelled scenario set it runs on."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from connectors.feeds.store import load_default_feeds
from processors.enrich import EnrichmentContext
from processors.errors import ConfigurationError
from processors.models import Module, RiskTier
from processors.normalise import normalise
from processors.score import RULE_TITLES
from processors.tier_evaluation import EVALUATED_AT, TierReport, evaluate_tiers, raw_alert
from streams.static_inputs import load_scoring_policy
from streams.static_inputs import DEFAULT_SCENARIOS_PATH, load_scenarios

SCENARIOS = load_scenarios()
CONTEXT = EnrichmentContext(feeds=load_default_feeds())
POLICY = load_scoring_policy()


@pytest.fixture(scope="module")
def report() -> TierReport:
    return evaluate_tiers(SCENARIOS, CONTEXT, POLICY)


def test_the_scored_tiers_meet_the_targets_on_the_labelled_set(report: TierReport) -> None:
    assert report.scenarios == len(SCENARIOS.scenarios) >= 80
    assert report.exact >= 0.90, report.render()
    assert report.within_one == 1.0, report.render()
    assert report.critical_recall == 1.0, report.render()


def test_the_set_covers_every_tier_module_and_tricky_case() -> None:
    tiers = Counter(s.tier for s in SCENARIOS.scenarios)
    assert all(tiers[t] >= 15 for t in RiskTier), tiers
    modules = Counter(normalise(raw_alert(s.alert, SCENARIOS.accounts, s.id, EVALUATED_AT)).module
                      for s in SCENARIOS.scenarios)
    assert all(modules[m] >= 3 for m in Module), modules
    kinds = Counter(s.alert.kind for s in SCENARIOS.scenarios)
    assert {"cspm", "cspm_webhook", "compute_host", "compute_image", "compute_incident", "compute_runtime"} <= kinds.keys()
    whys = " ".join(s.why for s in SCENARIOS.scenarios)
    for case in ("G1", "G2", "A1", "A2 dev", "A2 staging", "A2 test"):  # resolved, noise, low value, non-prod
        assert case in whys, case
    assert any(s.context.dismissed_before for s in SCENARIOS.scenarios)
    assert any(s.context.open_on_asset for s in SCENARIOS.scenarios)


def test_every_label_cites_the_rubric() -> None:
    for s in SCENARIOS.scenarios:
        rules = re.findall(r"\b([CHML][1-7])\b", s.why)
        gated = re.search(r"\bG[12]\b", s.why)
        assert rules or (gated and s.tier is RiskTier.LOW), f"{s.id}: neither a rule nor a gate cited"
        assert set(rules) <= RULE_TITLES.keys(), f"{s.id}: unknown rule in {s.why!r}"
        # the rule cited first gives the label unless an adjustment or a gate is cited too
        if rules:
            assert RULE_TITLES[rules[0]][0] is s.tier or re.search(r"\b(A[12]|G[12])\b", s.why), s.id


def test_the_report_prints_a_confusion_matrix(report: TierReport) -> None:
    text = report.render()
    assert "labelled \\ scored" in text and "CRITICAL recall" in text
    for tier in RiskTier:
        assert sum(report.confusion[tier].values()) == Counter(s.tier for s in SCENARIOS.scenarios)[tier]
    assert sum(sum(row.values()) for row in report.confusion.values()) == report.scenarios


def test_the_figures_fall_when_labels_disagree(tmp_path: Path) -> None:
    doc = yaml.safe_load(DEFAULT_SCENARIOS_PATH.read_text())
    criticals = [s for s in doc["scenarios"] if s["tier"] == "critical"]
    lows = [s for s in doc["scenarios"] if s["tier"] == "low"]
    for s in criticals[:3]:
        s["tier"] = "low"  # three tiers away from what is scored
    for s in lows[:2]:
        s["tier"] = "critical"  # the scorer cannot find these: CRITICAL recall falls
    path = tmp_path / "relabelled.yaml"
    path.write_text(yaml.safe_dump(doc))
    bad = evaluate_tiers(load_scenarios(path), CONTEXT, POLICY)
    assert bad.exact <= (bad.scenarios - 5) / bad.scenarios
    assert bad.within_one <= (bad.scenarios - 5) / bad.scenarios
    assert bad.critical_recall < 1.0
    assert {o.id for o in bad.disagreements} >= {s["id"] for s in criticals[:3] + lows[:2]}
    assert "disagreements" in bad.render()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["scenarios"][0].update(colour="red"), "colour"),
        (lambda d: d["scenarios"][0]["alert"].update(account="nowhere"), "not under accounts"),
        (lambda d: d["scenarios"][1].update(id=d["scenarios"][0]["id"]), "duplicate"),
        (lambda d: d["scenarios"][0].update(tier="urgent"), "tier"),
        (lambda d: d["scenarios"][0]["alert"].update(kind="carrier-pigeon"), "kind"),
    ],
)
def test_a_bad_scenario_file_is_refused(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(DEFAULT_SCENARIOS_PATH.read_text())
    change(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigurationError, match=message):
        load_scenarios(path)


def test_an_owner_mapping_in_the_file_is_used(tmp_path: Path) -> None:
    doc = yaml.safe_load(DEFAULT_SCENARIOS_PATH.read_text())
    target = next(s for s in doc["scenarios"] if s["id"] == "root-login-account-of-unknown-environment")
    account_id = doc["accounts"][target["alert"]["account"]]["id"]
    doc["owners"] = {"accounts": {account_id: {"environment": "dev"}}}
    doc["scenarios"] = [target]
    path = tmp_path / "owners.yaml"
    path.write_text(yaml.safe_dump(doc))
    (outcome,) = evaluate_tiers(load_scenarios(path), CONTEXT, POLICY).outcomes
    assert outcome.scored is RiskTier.HIGH and "A2 environment dev" in outcome.scorer_reason
