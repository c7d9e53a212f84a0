"""Reading a model's answer: a valid draft, a refusal, or the validation error to send back.

The stage asks for a :class:`~processors.analyze.draft.LlmAnalysisDraft` with a JSON-schema
``response_format`` (:data:`SCHEMA_NAME`, :func:`~processors.analyze.draft.draft_json_schema`).
:func:`read_answer` turns one :class:`~processors.analyze.port.Completion` into a draft, raises
:class:`ModelRefusedError` on a refusal, or returns the short validation error that
:func:`repair_messages` sends back once (the *repair* attempt). Pure: the call itself and the
one-repair loop are the stream layer's (:mod:`streams.analysis.llm_call`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from processors.analyze.draft import LlmAnalysisDraft
from processors.analyze.errors import ModelRefusedError
from processors.analyze.port import ChatMessage, Completion
from processors.analyze.registry import PromptTemplate, RenderedPrompt

__all__ = ["SCHEMA_NAME", "Answer", "read_answer", "repair_messages"]

SCHEMA_NAME = "prismaflow_analysis_draft"
_MAX_ERROR_CHARS = 800
_MAX_ECHO_CHARS = 4000


@dataclass(frozen=True)
class Answer:
    """One answer read: ``draft`` when it is valid, else ``error`` says why not."""

    draft: LlmAnalysisDraft | None
    error: str = ""


def _validation_summary(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:10]]
    return "; ".join(parts)[:_MAX_ERROR_CHARS]


def read_answer(completion: Completion) -> Answer:
    """The draft in ``completion``, or the validation error; raises :class:`ModelRefusedError` on a refusal."""
    if completion.refusal:
        raise ModelRefusedError(completion.refusal)
    try:
        return Answer(LlmAnalysisDraft.model_validate_json(completion.content or ""))
    except ValidationError as exc:
        error = _validation_summary(exc)
        if completion.finish_reason == "length":
            error = f"the answer was cut off at the output token limit; be shorter. {error}"
        return Answer(None, error)


def repair_messages(prompt: PromptTemplate, rendered: RenderedPrompt, completion: Completion,
                    error: str) -> list[ChatMessage]:
    """The conversation of the repair attempt: the prompt, the invalid answer (cut), the repair request."""
    return [*rendered.messages,
            ChatMessage(role="assistant", content=(completion.content or "")[:_MAX_ECHO_CHARS]),
            prompt.repair_message(error)]
