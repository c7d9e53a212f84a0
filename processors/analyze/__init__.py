"""What an analysis of a scored alert says, as pure logic: a plain-language explanation, a grounded
remediation plan and an approval path, written by an LLM (OpenAI-compatible, structured output) or by
the deterministic offline playbook analyser.

No I/O, no clock, no metrics here: the service that runs an analysis (gates, cache, budget, rate
limit, the LLM call, fallback, metrics) is :mod:`streams.analysis`; the files below ``prompts/``,
``playbooks/`` and ``knowledge/`` are read by :mod:`streams.analysis.inputs`. Module map:

* ``port``       the completion port: :class:`ChatMessage`, :class:`Completion`, :class:`CompletionClient`
* ``compose``    prepare an alert, ground a draft, assemble the :class:`~processors.records.Analysis`
* ``answer``     read a model's answer: a valid draft, a refusal, or the error for the repair attempt
* ``offline``    drafts from playbooks (``playbook``), the policy recommendation and passages
* ``retrieval``  BM25 over the knowledge documents
* ``registry``   versioned, sha256-locked prompts
* ``facts`` / ``redact``  what the analysers see, fenced and redacted
* ``grounding`` / ``vocabulary``  post-generation checks and the remediation allowlist
* ``decide``     priority, justification and approval path (our code, never the model)
* ``cost``       the alike-findings cache key and the token estimate
* ``evaluate``   agreement with analyst labels over a labelled set
"""

from __future__ import annotations

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
from processors.analyze.port import ChatMessage, Completion, CompletionClient
from processors.analyze.registry import PromptRegistry

__all__ = [
    "AnalysisFailedError",
    "ChatMessage",
    "Completion",
    "CompletionClient",
    "DraftEvidence",
    "DraftStep",
    "LlmAnalysisDraft",
    "ModelRefusedError",
    "PromptIntegrityError",
    "PromptRegistry",
    "PromptRegistryError",
    "draft_json_schema",
]
