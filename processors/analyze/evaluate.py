"""Evaluation harness: how far analyses agree with an analyst's labels, and what they cost.

``run_evaluation(labelled, analyzer)`` analyses every labelled scored alert and compares:

* priority agreement: the analysis priority equals the analyst's;
* TP/FP agreement: an alert is predicted a false positive when scoring suggested its dismissal or the
  analysis came out ``insufficient_evidence``; compared with the analyst's true/false positive label;
* remediation family agreement: the family of the plan (majority family of its allowlisted commands
  and IaC snippets, else the playbook it cites) equals the analyst's expected family;
* schema-valid rate of model answers, grounding failures, LLM calls per 1,000 raw alerts and cost.

Run ``python -m processors.analyze.evaluate [--data FILE] [--llm-simulator]``: offline by default,
or the LLM path against the in-process simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from processors.analyze.analyzer import AnalyzerStats
from processors.analyze.playbook import PlaybookLibrary
from processors.analyze.vocabulary import FAMILIES, command_verdict, iac_verdict
from processors.models import Cloud, RiskTier, ScoredAlert
from processors.records import Analysis, AnalysisOutcome, Priority

__all__ = [
    "DEFAULT_LABELLED_PATH",
    "AnalystLabel",
    "EvaluationReport",
    "LabelledAlert",
    "evaluate_analysis",
    "family_of",
    "load_labelled",
    "main",
    "run_evaluation",
]

DEFAULT_LABELLED_PATH = Path(__file__).resolve().parents[2] / "tests" / "data" / "eval" / "labelled_alerts.jsonl"


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


class _Analyzer(Protocol):
    stats: AnalyzerStats
    playbooks: PlaybookLibrary

    async def analyse(self, scored: ScoredAlert) -> Analysis: ...


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


def load_labelled(path: Path = DEFAULT_LABELLED_PATH) -> list[LabelledAlert]:
    """Read a JSONL labelled set (one :class:`LabelledAlert` per line)."""
    return [LabelledAlert.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


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


async def run_evaluation(labelled: Sequence[LabelledAlert], analyzer: _Analyzer) -> EvaluationReport:
    """Analyse every labelled alert with ``analyzer`` and compare with the labels."""
    before = AnalyzerStats(**{k: v for k, v in vars(analyzer.stats).items() if k != "offline"})
    offline_before = Counter(analyzer.stats.offline)
    agree_p = agree_tp = agree_f = grounding = insufficient = 0
    disagreements: list[str] = []
    for item in labelled:
        analysis = await analyzer.analyse(item.scored)
        predicted_fp = item.scored.suggested_dismissal or analysis.outcome is AnalysisOutcome.INSUFFICIENT_EVIDENCE
        family = family_of(analysis, item.scored.alert.resource.cloud, analyzer.playbooks)
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
    stats = analyzer.stats
    n = max(len(labelled), 1)
    requests = stats.llm_requests - before.llm_requests
    invalid = stats.validation_failures - before.validation_failures
    return EvaluationReport(
        alerts=len(labelled),
        priority_agreement=agree_p / n,
        tp_fp_agreement=agree_tp / n,
        family_agreement=agree_f / n,
        schema_valid_rate=(requests - invalid) / requests if requests else 1.0,
        grounding_failures=grounding,
        insufficient_evidence=insufficient,
        llm_calls=requests,
        calls_per_1000_alerts=1000.0 * requests / n,
        cache_hits=stats.cache_hits - before.cache_hits,
        tokens=(stats.input_tokens + stats.output_tokens) - (before.input_tokens + before.output_tokens),
        cost_usd=round(stats.cost_usd - before.cost_usd, 6),
        offline_fallbacks=dict(Counter(stats.offline) - offline_before),
        disagreements=disagreements,
    )


async def _run(args: argparse.Namespace) -> EvaluationReport:
    from prometheus_client import CollectorRegistry

    from processors.analyze.analyzer import Analyzer
    from processors.analyze.metrics import AnalyzerMetrics
    from processors.analyze.settings import AnalyzerSettings

    labelled = load_labelled(Path(args.data))
    metrics = AnalyzerMetrics(CollectorRegistry())
    if not args.llm_simulator:
        analyzer = Analyzer(AnalyzerSettings(min_tier=RiskTier.LOW), metrics=metrics)
        return await run_evaluation(labelled, analyzer)
    import httpx2
    from pydantic import SecretStr

    from connectors.llm.client import LlmClient
    from connectors.llm.settings import LlmSettings
    from connectors.llm.simulator import LlmSimulator, SimulatorTransport

    sim = LlmSimulator()
    llm = LlmSettings(base_url="http://llm-simulator/v1", model=sim.model, api_key=SecretStr(sim.api_key))
    async with LlmClient(llm, http_client=httpx2.AsyncClient(transport=SimulatorTransport(app=sim))) as client:
        analyzer = Analyzer(AnalyzerSettings(llm=llm, min_tier=RiskTier.LOW, llm_min_tier=RiskTier.LOW, rate_per_s=1000.0), llm_client=client,
                            metrics=metrics)
        return await run_evaluation(labelled, analyzer)


def evaluate_analysis(data: Path = DEFAULT_LABELLED_PATH, *, llm_simulator: bool = False) -> EvaluationReport:
    """Run the evaluation on a labelled JSONL file (offline, or the LLM path against the simulator)."""
    return asyncio.run(_run(argparse.Namespace(data=str(data), llm_simulator=llm_simulator)))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m processors.analyze.evaluate``: print the report (``--json`` for JSON)."""
    parser = argparse.ArgumentParser(prog="python -m processors.analyze.evaluate")
    parser.add_argument("--data", default=str(DEFAULT_LABELLED_PATH))
    parser.add_argument("--llm-simulator", action="store_true", help="use the LLM path against the local simulator")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = evaluate_analysis(Path(args.data), llm_simulator=args.llm_simulator)
    print(json.dumps(report.model_dump(), indent=2) if args.json else report.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
