"""The analysis stage's service layer: ``prisma.alerts.scored`` → ``prisma.analyses``.

What an analysis says is pure and lives in :mod:`processors.analyze` (facts, prompts, playbooks,
grounding, the offline analyser, the completion port). Everything that runs it lives here:

* ``service``   :class:`AnalysisService`: gate → cache → budget → LLM → grounding → offline fallback
* ``llm_call``  one structured-output call through the completion port, with one repair attempt
* ``budget``    the gates, the alike-findings cache, the rate limit and the token budget, on clocks
* ``metrics``   ``prismaflow_llm_*`` Prometheus metrics
* ``settings``  :class:`AnalysisSettings` (the one model and its defaults) and its environment binding
* ``inputs``    reading the shipped prompts, playbooks and knowledge documents
* ``sink``      :class:`AnalysisSink`, the Kafka-facing worker side (audit records included)
* ``evaluation`` ``prismaflow eval analysis``
"""

from __future__ import annotations

from streams.analysis.metrics import AnalysisMetrics
from streams.analysis.service import AnalysisService, AnalysisStats
from streams.analysis.settings import AnalysisSettings, AnalysisStageSettings
from streams.analysis.sink import AnalysisSink

__all__ = [
    "AnalysisMetrics",
    "AnalysisService",
    "AnalysisSettings",
    "AnalysisSink",
    "AnalysisStageSettings",
    "AnalysisStats",
]
