"""``prismaflow eval analysis``: run the analysis service over a labelled set and compare.

:func:`run_evaluation` analyses every labelled scored alert with a service and hands the analyses and
the service's usage over the run to the pure :func:`processors.analyze.evaluate.build_report`.
:func:`evaluate_analysis` does it offline by default, or the LLM path against the in-process
simulator. ``python -m streams.analysis.evaluation [--data FILE] [--llm-simulator] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import httpx2
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from connectors.llm.client import LlmClient
from connectors.llm.settings import LlmSettings
from connectors.llm.simulator import LlmSimulator, SimulatorTransport
from processors.analyze.evaluate import EvaluationReport, LabelledAlert, build_report, parse_labelled
from processors.analyze.playbook import PlaybookLibrary
from processors.models import RiskTier, ScoredAlert
from processors.records import Analysis
from streams.analysis.metrics import AnalysisMetrics
from streams.analysis.service import AnalysisService, AnalysisStats
from streams.analysis.settings import AnalysisSettings
from streams.static_inputs import read_text

__all__ = ["DEFAULT_LABELLED_PATH", "evaluate_analysis", "load_labelled", "main", "run_evaluation"]

#: The shipped labelled set (a file of this checkout).
DEFAULT_LABELLED_PATH = Path(__file__).resolve().parents[2] / "tests" / "data" / "eval" / "labelled_alerts.jsonl"


class _Service(Protocol):
    stats: AnalysisStats
    playbooks: PlaybookLibrary

    async def analyse(self, scored: ScoredAlert) -> Analysis: ...


def load_labelled(path: Path = DEFAULT_LABELLED_PATH) -> list[LabelledAlert]:
    """Read a JSONL labelled set (one :class:`LabelledAlert` per line)."""
    return parse_labelled(read_text(path, "labelled set"))


async def run_evaluation(labelled: Sequence[LabelledAlert], service: _Service) -> EvaluationReport:
    """Analyse every labelled alert with ``service`` and compare with the labels."""
    before = service.stats.snapshot()
    analyses = [await service.analyse(item.scored) for item in labelled]
    return build_report(labelled, analyses, service.stats.usage_since(before), service.playbooks)


async def _run(data: Path, llm_simulator: bool) -> EvaluationReport:
    labelled = load_labelled(data)
    metrics = AnalysisMetrics(CollectorRegistry())
    if not llm_simulator:
        return await run_evaluation(labelled, AnalysisService(AnalysisSettings(min_tier=RiskTier.LOW), metrics=metrics))
    sim = LlmSimulator()
    llm = LlmSettings(base_url="http://llm-simulator/v1", model=sim.model, api_key=SecretStr(sim.api_key))
    async with LlmClient(llm, http_client=httpx2.AsyncClient(transport=SimulatorTransport(app=sim))) as client:
        settings = AnalysisSettings(llm=llm, min_tier=RiskTier.LOW, llm_min_tier=RiskTier.LOW, llm_min_score=0,
                                    rate_per_s=1000.0)
        return await run_evaluation(labelled, AnalysisService(settings, llm_client=client, metrics=metrics))


def evaluate_analysis(data: Path = DEFAULT_LABELLED_PATH, *, llm_simulator: bool = False) -> EvaluationReport:
    """Run the evaluation on a labelled JSONL file (offline, or the LLM path against the simulator)."""
    return asyncio.run(_run(data, llm_simulator))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.analysis.evaluation``: print the report (``--json`` for JSON)."""
    parser = argparse.ArgumentParser(prog="python -m streams.analysis.evaluation")
    parser.add_argument("--data", default=str(DEFAULT_LABELLED_PATH))
    parser.add_argument("--llm-simulator", action="store_true", help="use the LLM path against the local simulator")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = evaluate_analysis(Path(args.data), llm_simulator=args.llm_simulator)
    print(json.dumps(report.model_dump(), indent=2) if args.json else report.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
