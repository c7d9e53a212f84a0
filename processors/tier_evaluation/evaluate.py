"""Tier evaluation: run labelled scenarios through the real pipeline and compare tiers with the labels.

:func:`evaluate_tiers` builds each scenario's payload, runs normalise + enrich
(:func:`processors.pipeline.normalise_and_enrich`) and dedupe + correlate + score
(:func:`processors.pipeline.process_for_asset`) on it (the scenario's other open findings on the
asset first), and returns a :class:`TierReport`: the confusion matrix (labelled tier × scored
tier), exact agreement, agreement within one tier, CRITICAL recall and every disagreement with the
analyst's reason and the scorer's. Pure apart from what the caller passes in; the CLI prints it
(``prismaflow eval tiers``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from processors.enrich import EnrichmentContext
from processors.enrich.owners import OwnerMap
from processors.errors import InvalidRecordError
from processors.models import RiskTier
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from processors.score import TIER_ORDER, ScoringPolicy
from processors.tier_evaluation.scenarios import Scenario, ScenarioFile, raw_alert

__all__ = ["EVALUATED_AT", "Outcome", "TierReport", "evaluate_scenario", "evaluate_tiers"]

#: The record time every scenario is scored at (scoring uses record time, so results are fixed).
EVALUATED_AT = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


class Outcome(BaseModel):
    """One scenario's labelled and scored tier, and the scorer's own explanation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    labelled: RiskTier
    scored: RiskTier
    score: int
    why: str
    scorer_reason: str

    @property
    def distance(self) -> int:
        return abs(TIER_ORDER.index(self.labelled) - TIER_ORDER.index(self.scored))


class TierReport(BaseModel):
    """Agreement of scored tiers with analysts' labels over a scenario set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenarios: int
    confusion: dict[RiskTier, dict[RiskTier, int]] = Field(description="labelled tier -> scored tier -> count")
    exact: float
    within_one: float
    critical_recall: float
    outcomes: list[Outcome]

    @property
    def disagreements(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.distance]

    def render(self) -> str:
        """The confusion matrix and the three figures, then each disagreement, as text."""
        order = list(reversed(TIER_ORDER))
        width = max(len(t.value) for t in order) + 2
        head = "labelled \\ scored".ljust(18) + "".join(t.value.rjust(width) for t in order) + "total".rjust(width)
        lines = [f"tier agreement on {self.scenarios} labelled scenarios", "", head]
        for labelled in order:
            row = self.confusion[labelled]
            lines.append(labelled.value.ljust(18) + "".join(str(row[s]).rjust(width) for s in order)
                         + str(sum(row.values())).rjust(width))
        lines += [
            "",
            f"exact agreement          {self.exact:.1%}",
            f"within one tier          {self.within_one:.1%}",
            f"CRITICAL recall          {self.critical_recall:.1%}",
        ]
        if self.disagreements:
            lines += ["", "disagreements (labelled -> scored):"]
            for o in self.disagreements:
                lines.append(f"  {o.id}: {o.labelled.value} -> {o.scored.value} (score {o.score})")
                lines.append(f"      analyst: {o.why}")
                lines.append(f"      scorer:  {o.scorer_reason}")
        return "\n".join(lines)


def evaluate_scenario(scenario: Scenario, file: ScenarioFile, context: EnrichmentContext,
                      policy: ScoringPolicy, at: datetime = EVALUATED_AT) -> Outcome:
    """Score one scenario through the pipeline; raise InvalidRecordError if its payload does not normalise."""
    states = StageStates()
    for index, spec in enumerate(scenario.context.open_on_asset):
        other = normalise_and_enrich(raw_alert(spec, file.accounts, f"{scenario.id}/context/{index}", at), context)
        _, states = process_for_asset(states, other, policy, at)
    alert = normalise_and_enrich(raw_alert(scenario.alert, file.accounts, scenario.id, at), context)
    if scenario.context.dismissed_before:
        history = states.history.with_dismissal(alert.policy_id, alert.resource.asset_id)
        states = states.model_copy(update={"history": history})
    scored, _ = process_for_asset(states, alert, policy, at)
    if scored is None:  # a first sight is never a duplicate; this would be a bug in the scenario runner
        raise InvalidRecordError(f"scenario {scenario.id} was dropped as a duplicate", stage="evaluate")
    return Outcome(id=scenario.id, labelled=scenario.tier, scored=scored.tier, score=scored.score,
                   why=scenario.why, scorer_reason=scored.factors[0].reason if scored.factors else "")


def evaluate_tiers(file: ScenarioFile, context: EnrichmentContext, policy: ScoringPolicy,
                   at: datetime = EVALUATED_AT) -> TierReport:
    """Score every scenario of ``file`` and compare with its label.

    ``context`` supplies the feeds (KEV/EPSS snapshot); when the file carries an ``owners`` mapping
    it replaces the context's owner map, so the labels and the mapping they assume travel together.
    """
    if file.owners is not None:
        context = EnrichmentContext(feeds=context.feeds, owners=OwnerMap(file.owners),
                                    resource_lookup=None, keep_resource_config=context.keep_resource_config)
    outcomes = [evaluate_scenario(s, file, context, policy, at) for s in file.scenarios]
    confusion = {labelled: {scored: 0 for scored in TIER_ORDER} for labelled in TIER_ORDER}
    for o in outcomes:
        confusion[o.labelled][o.scored] += 1
    n = max(len(outcomes), 1)
    critical = [o for o in outcomes if o.labelled is RiskTier.CRITICAL]
    return TierReport(
        scenarios=len(outcomes),
        confusion=confusion,
        exact=sum(o.distance == 0 for o in outcomes) / n,
        within_one=sum(o.distance <= 1 for o in outcomes) / n,
        critical_recall=(sum(o.scored is RiskTier.CRITICAL for o in critical) / len(critical)) if critical else 1.0,
        outcomes=outcomes,
    )
