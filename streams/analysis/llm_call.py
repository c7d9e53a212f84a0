"""The LLM call of the analysis stage: one structured-output request, validated, with one repair.

:class:`LlmAnalyser` sends a rendered prompt with ``response_format = {"type": "json_schema", ...}``
(the schema of :class:`~processors.analyze.draft.LlmAnalysisDraft`) through a
:class:`~processors.analyze.port.CompletionClient`, and reads the answer
(:func:`processors.analyze.answer.read_answer`). On invalid JSON or a schema violation it sends the
validation error back once (the *repair* attempt); if that answer is invalid too it raises
:class:`AnalysisFailedError`. A refusal (``message.refusal``) raises :class:`ModelRefusedError`
without a repair.

Retries: transport retries (429/5xx/timeouts) happen inside the ``openai`` SDK only
(``LlmSettings.max_retries``); this class never retries a transport failure, so the two never stack.
Worst case per analysis: 2 requests × (1 + max_retries) attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from connectors.llm.client import LlmClient
from connectors.llm.settings import LlmSettings
from processors.analyze.answer import SCHEMA_NAME, read_answer, repair_messages
from processors.analyze.draft import LlmAnalysisDraft, draft_json_schema
from processors.analyze.errors import AnalysisFailedError, ModelRefusedError
from processors.analyze.port import ChatMessage, Completion, CompletionClient
from processors.analyze.registry import PromptTemplate, RenderedPrompt

__all__ = ["LlmAnalyser", "LlmResult"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LlmResult:
    """A valid draft, the model that wrote it and what it cost."""

    draft: LlmAnalysisDraft
    model: str
    input_tokens: int
    output_tokens: int
    attempts: int
    elapsed_s: float


class LlmAnalyser:
    """Gets a validated :class:`LlmAnalysisDraft` from the model.

    ``client`` defaults to an :class:`LlmClient` built from ``settings`` (over ``http_client`` when
    given); :meth:`aclose` closes only a client this object created. ``on_completion`` is called with
    every completion (both attempts), so usage and cost are counted even when validation fails;
    ``on_invalid`` with every validation failure.
    """

    def __init__(
        self,
        settings: LlmSettings,
        client: CompletionClient | None = None,
        *,
        http_client: httpx2.AsyncClient | None = None,
        on_completion: Callable[[Completion], None] | None = None,
        on_invalid: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self.client: CompletionClient = client if client is not None else LlmClient(settings, http_client=http_client)
        self._on_completion = on_completion or (lambda c: None)
        self._on_invalid = on_invalid or (lambda e: None)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def draft(
        self,
        prompt: PromptTemplate,
        rendered: RenderedPrompt,
        *,
        on_completion: Callable[[Completion], None] | None = None,
    ) -> LlmResult:
        """Ask for a draft; repair once on invalid output.

        ``on_completion`` is called with each completion of this call (besides the constructor's hook).
        Raises :class:`ModelRefusedError` on a refusal, :class:`AnalysisFailedError` when the repair
        answer is invalid too, and :class:`connectors.base.ConnectorError` subclasses for transport
        failures the SDK's retries did not overcome.
        """
        messages: list[ChatMessage] = list(rendered.messages)
        tokens_in = tokens_out = 0
        elapsed = 0.0
        error = ""
        for attempt in (1, 2):
            completion = await self.client.complete(messages, json_schema=draft_json_schema(), schema_name=SCHEMA_NAME)
            self._on_completion(completion)
            if on_completion is not None:
                on_completion(completion)
            tokens_in += completion.input_tokens
            tokens_out += completion.output_tokens
            elapsed += completion.elapsed_s
            try:
                answer = read_answer(completion)
            except ModelRefusedError:
                logger.warning("llm refused prompt=%s@%s attempt=%d", prompt.id, prompt.version, attempt)
                raise
            if answer.draft is None:
                error = answer.error
                self._on_invalid(error)
                logger.warning(
                    "llm output invalid prompt=%s@%s attempt=%d error=%s", prompt.id, prompt.version, attempt, error[:200]
                )
                messages = repair_messages(prompt, rendered, completion, error)
                continue
            return LlmResult(answer.draft, completion.model, tokens_in, tokens_out, attempt, elapsed)
        raise AnalysisFailedError(f"llm output invalid after one repair attempt: {error}")
