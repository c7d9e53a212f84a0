"""The analysis stage's service layer: ``prisma.alerts.scored`` → ``prisma.analyses``.

What an analysis says is pure and lives in :mod:`processors.analyze` (facts, prompts, playbooks,
grounding, the offline analyser, the completion port). Everything that runs it lives here:

* ``service``   :class:`AnalysisService`: gate → cache → budget → LLM → grounding → offline fallback
* ``llm_call``  one structured-output call through the completion port, with one repair attempt
* ``budget``    the gates, the alike-findings cache, the rate limit and the token budget, on clocks
* ``metrics``   ``prismaflow_llm_*`` Prometheus metrics
* ``settings``  :class:`AnalysisSettings` (the one model and its defaults) (the tree's ``analysis`` section)
* ``inputs``    reading the shipped prompts, playbooks and knowledge documents
* ``sink``      :class:`AnalysisSink`, the Kafka-facing worker side (audit records included)
* ``evaluation`` ``prismaflow eval analysis``
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.analysis.metrics import AnalysisMetrics
    from streams.analysis.service import AnalysisService, AnalysisStats
    from streams.analysis.settings import AnalysisSettings
    from streams.analysis.sink import AnalysisSink

#: Where each export lives. The package loads them on first use (PEP 562), so that importing
#: ``streams.analysis.settings`` (the settings tree does, for every command) does not load the service
#: and the ``openai`` SDK with it.
_EXPORTS = {
    "AnalysisMetrics": "streams.analysis.metrics",
    "AnalysisService": "streams.analysis.service",
    "AnalysisStats": "streams.analysis.service",
    "AnalysisSettings": "streams.analysis.settings",
    "AnalysisSink": "streams.analysis.sink",
}

__all__ = [
    "AnalysisMetrics",
    "AnalysisService",
    "AnalysisSettings",
    "AnalysisSink",
    "AnalysisStats",
]


def __getattr__(name: str) -> Any:
    """The export ``name``, imported from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
