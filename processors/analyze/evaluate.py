"""Evaluation maths: how far analyses agree with an analyst's labels, and what they cost.

:func:`build_report` compares the analyses of a labelled set with the labels:

* priority agreement: the analysis priority equals the analyst's;
* TP/FP agreement: an alert is predicted a false positive when scoring suggested its dismissal or the
  analysis came out ``insufficient_evidence``; compared with the analyst's true/false positive label;
* remediation family agreement: the family of the plan (majority family of its allowlisted commands
  and IaC snippets, else the playbook it cites) equals the analyst's expected family;
* schema-valid rate of model answers, grounding failures, LLM calls per 1,000 raw alerts and cost
  (from the :class:`Usage` the analysis service counted over the run).

Running the analyses and reading the labelled file is :mod:`streams.analysis.evaluation`'s
(``prismaflow eval analysis``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from processors.analyze.playbook import PlaybookLibrary
from processors.analyze.vocabulary import FAMILIES, command_verdict, iac_verdict
from processors.models import Cloud, ScoredAlert
from processors.records import Analysis, AnalysisOutcome, Priority

__all__ = [
    "AnalystLabel",
    "EvaluationReport",
    "LabelledAlert",
    "Usage",
    "build_report",
    "family_of",
    "parse_labelled",
]


@dataclass(frozen=True)
class Usage:
    """What the analyses of one run used: model requests and their outcome, tokens, cost, fallbacks."""

    llm_requests: int = 0
    validation_failures: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    offline_fallbacks: Mapping[str, int] = field(default_factory=dict)


class AnalystLabel(BaseModel):
    """What an analyst decided about one alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: Priority
    true_positive: bool
    remediation_family: str = Field(description="One of the playbook families, or 'none'")
    note: str = ""


class LabelledAlert(BaseModel):
    """One line of the labelled set: a scored alert and its label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scored: ScoredAlert
    label: AnalystLabel


class EvaluationReport(BaseModel):
    """Agreement figures and costs of one evaluation run."""

    alerts: int
    priority_agreement: float
    tp_fp_agreement: float
    family_agreement: float
    schema_valid_rate: float
    grounding_failures: int
    insufficient_evidence: int
    llm_calls: int
    calls_per_1000_alerts: float
    cache_hits: int
    tokens: int
    cost_usd: float
    offline_fallbacks: dict[str, int]
    disagreements: list[str] = Field(default_factory=list)

    def render(self) -> str:
        """A short human-readable table."""
        rows = [
            ("alerts", str(self.alerts)),
            ("priority agreement", f"{self.priority_agreement:.1%}"),
            ("TP/FP agreement", f"{self.tp_fp_agreement:.1%}"),
            ("remediation family agreement", f"{self.family_agreement:.1%}"),
            ("schema-valid rate (model answers)", f"{self.schema_valid_rate:.1%}"),
            ("analyses with grounding removals", str(self.grounding_failures)),
            ("insufficient evidence", str(self.insufficient_evidence)),
            ("LLM calls", f"{self.llm_calls} ({self.calls_per_1000_alerts:.0f} per 1,000 alerts)"),
            ("cache hits", str(self.cache_hits)),
            ("tokens / cost", f"{self.tokens} / ${self.cost_usd:.4f}"),
            ("offline fallbacks", ", ".join(f"{k}={v}" for k, v in sorted(self.offline_fallbacks.items())) or "none"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def parse_labelled(text: str) -> list[LabelledAlert]:
    """A JSONL labelled set's text: one :class:`LabelledAlert` per non-empty line."""
    return [LabelledAlert.model_validate_json(line) for line in text.splitlines() if line.strip()]


def family_of(analysis: Analysis, cloud: Cloud, playbooks: PlaybookLibrary | None = None) -> str:
    """The remediation family of a plan: majority over its commands and snippets, else its cited playbook."""
    votes: Counter[str] = Counter()
    for step in analysis.remediation_steps:
        for family in (command_verdict(step.command, cloud).family if step.command else "",
                       iac_verdict(step.iac_snippet).family if step.iac_snippet else ""):
            if family:
                votes[family] += 1
    if votes:
        return votes.most_common(1)[0][0]
    for evidence in analysis.evidence:
        if evidence.source == "playbook" and evidence.reference.startswith("playbook:") and playbooks:
            wanted = evidence.reference.removeprefix("playbook:")
            for playbook in playbooks.playbooks:
                if playbook.id == wanted:
                    return playbook.family
    return "none"


def build_report(labelled: Sequence[LabelledAlert], analyses: Sequence[Analysis], usage: Usage,
                 playbooks: PlaybookLibrary | None = None) -> EvaluationReport:
    """Compare ``analyses`` (one per labelled alert, in order) with the labels (see the module docstring)."""
    agree_p = agree_tp = agree_f = grounding = insufficient = 0
    disagreements: list[str] = []
    for item, analysis in zip(labelled, analyses, strict=True):
        predicted_fp = item.scored.suggested_dismissal or analysis.outcome is AnalysisOutcome.INSUFFICIENT_EVIDENCE
        family = family_of(analysis, item.scored.alert.resource.cloud, playbooks)
        ok_p = analysis.priority == item.label.priority
        ok_tp = predicted_fp != item.label.true_positive
        ok_f = family == item.label.remediation_family or (item.label.remediation_family not in FAMILIES and family == "none")
        agree_p += ok_p
        agree_tp += ok_tp
        agree_f += ok_f
        grounding += any(e.source == "grounding" for e in analysis.evidence)
        insufficient += analysis.outcome is AnalysisOutcome.INSUFFICIENT_EVIDENCE
        if not (ok_p and ok_tp and ok_f):
            disagreements.append(
                f"{item.scored.alert.alert_id}: priority {analysis.priority.value}/{item.label.priority.value} "
                f"fp {predicted_fp}/{not item.label.true_positive} family {family}/{item.label.remediation_family}"
            )
    n = max(len(labelled), 1)
    requests = usage.llm_requests
    return EvaluationReport(
        alerts=len(labelled),
        priority_agreement=agree_p / n,
        tp_fp_agreement=agree_tp / n,
        family_agreement=agree_f / n,
        schema_valid_rate=(requests - usage.validation_failures) / requests if requests else 1.0,
        grounding_failures=grounding,
        insufficient_evidence=insufficient,
        llm_calls=requests,
        calls_per_1000_alerts=1000.0 * requests / n,
        cache_hits=usage.cache_hits,
        tokens=usage.tokens,
        cost_usd=round(usage.cost_usd, 6),
        offline_fallbacks=dict(usage.offline_fallbacks),
        disagreements=disagreements,
    )
