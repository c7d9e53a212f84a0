"""Analysis of scored alerts: a plain-language explanation, a grounded remediation plan and an
approval path, written by an LLM (OpenAI-compatible, structured output) or by the deterministic
offline playbook analyser.

Entry point: :class:`Analyzer` (``should_analyse(scored)``, ``await analyse(scored)``). Module map:

* ``analyzer``   orchestration: gate → cache → budget → LLM → grounding → offline fallback
* ``llm``        one structured-output call with one repair attempt
* ``offline``    drafts from ``playbooks/*.yaml`` (``playbook``), the policy recommendation and passages
* ``retrieval``  BM25 over ``knowledge/*.md``
* ``registry``   versioned, sha256-locked prompts in ``prompts/``
* ``facts`` / ``redact``  what the analysers see, fenced and redacted
* ``grounding`` / ``vocabulary``  post-generation checks and the remediation allowlist
* ``decide``     priority, justification and approval path (our code, never the model)
* ``cost`` / ``metrics``  gate, cache, rate limit, token budget; ``prismaflow_llm_*`` metrics
* ``evaluate``   agreement with analyst labels over a labelled set
"""

from __future__ import annotations

from processors.analyze.analyzer import Analyzer, AnalyzerStats
from processors.analyze.draft import (
    DraftEvidence,
    DraftStep,
    LlmAnalysisDraft,
    draft_json_schema,
)
from processors.analyze.errors import (
    AnalysisFailedError,
    ModelRefusedError,
    PromptIntegrityError,
    PromptRegistryError,
)
from processors.analyze.metrics import AnalyzerMetrics
from processors.analyze.registry import PromptRegistry, lock_prompts
from processors.analyze.settings import AnalyzerSettings

__all__ = [
    "AnalysisFailedError",
    "Analyzer",
    "AnalyzerMetrics",
    "AnalyzerSettings",
    "AnalyzerStats",
    "DraftEvidence",
    "DraftStep",
    "LlmAnalysisDraft",
    "ModelRefusedError",
    "PromptIntegrityError",
    "PromptRegistry",
    "PromptRegistryError",
    "draft_json_schema",
    "lock_prompts",
]
