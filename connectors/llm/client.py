"""A thin async client for OpenAI-compatible chat completions, on the official ``openai`` SDK.

No Kafka, no prompts, no validation: :class:`LlmClient` implements the completion port of
:mod:`processors.analyze.port` (:class:`~processors.analyze.port.CompletionClient`): it sends
:class:`~processors.analyze.port.ChatMessage` values with a JSON-schema ``response_format`` and
returns a :class:`~processors.analyze.port.Completion` (content or refusal, model, token usage). The
port's types are the analysis stage's; this connector imports them. What the content means is
:mod:`processors.analyze`'s business.

Retries belong to the SDK alone (``LlmSettings.max_retries``, passed as ``max_retries`` to
``openai.AsyncOpenAI``): it retries 408/409/429/5xx, connection errors and timeouts with backoff and
honours ``Retry-After``. This client adds no retry loop; it bounds the whole call (retries included)
by ``LlmSettings.effective_deadline_s`` and translates what the SDK finally raises, once, into the
connector error tree of :mod:`connectors.base`::

    ConnectorError
    ├── TransientError            connection error, 5xx, 408/409 (after the SDK's retries)
    │   ├── RateLimitedError      429 (after the SDK's retries)
    │   └── LlmTimeoutError       per-attempt timeout or the overall deadline
    ├── AuthenticationError       401 / 403: the API key was rejected
    ├── NotFoundError             404: unknown model or wrong base URL
    ├── BadRequestError           400 / 422: e.g. the endpoint does not support json_schema
    ├── UnexpectedStatusError     any other status
    └── ResponseFormatError       a 2xx without a usable choice

Test seam: pass ``http_client=httpx2.AsyncClient(transport=...)`` (``openai`` >= 3 speaks ``httpx2``),
e.g. :class:`connectors.llm.simulator.SimulatorTransport` over the in-process simulator, so tests run
the real SDK path. The API key is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypedDict

import httpx2
import openai

from connectors.base import (AsyncClosing, AuthenticationError, BadRequestError, ConnectorError, NotFoundError,
                             RateLimitedError, ResponseFormatError, TransientError, UnexpectedStatusError)
from connectors.llm.settings import LlmSettings
from processors.analyze.port import ChatMessage, Completion

__all__ = ["ChatMessage", "Completion", "LlmClient", "LlmTimeoutError", "create_openai_client"]

logger = logging.getLogger(__name__)

_PATH = "/chat/completions"
_EXCERPT = 300


class LlmTimeoutError(TransientError):
    """The endpoint did not answer within the per-attempt timeout (after SDK retries) or the deadline."""


def create_openai_client(
    settings: LlmSettings, *, http_client: httpx2.AsyncClient | None = None
) -> openai.AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` configured from ``settings`` (base URL, key, timeouts, SDK retries).

    Raises :class:`ValueError` without an API key (the SDK would fall back to ``OPENAI_API_KEY``).
    """
    if settings.api_key is None:
        raise ValueError("the LLM endpoint has no API key: set api_key, or analyse offline")
    return openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key.get_secret_value(),
        timeout=httpx2.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
        max_retries=settings.max_retries,
        http_client=http_client,
    )


def _translate(exc: openai.OpenAIError) -> ConnectorError:
    """Map what the SDK raised (after its own retries) to our tree, most specific class first."""
    message = " ".join(str(exc).split())[:_EXCERPT]
    kw: dict[str, Any] = {"method": "POST", "path": _PATH, "body_excerpt": message}
    if isinstance(exc, openai.APITimeoutError):
        return LlmTimeoutError("llm request timed out", **kw)
    if isinstance(exc, openai.APIConnectionError):
        return TransientError("llm endpoint unreachable", **kw)
    if isinstance(exc, openai.APIResponseValidationError):
        return ResponseFormatError("llm response not in the documented shape", status_code=exc.status_code, **kw)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after: float | None = None
        header = exc.response.headers.get("retry-after")
        if header is not None:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        if status == 429:
            return RateLimitedError("llm rate limited", retry_after_s=retry_after, status_code=status, **kw)
        if status in (408, 409) or status >= 500:
            return TransientError("llm endpoint unavailable", retry_after_s=retry_after, status_code=status, **kw)
        if status in (401, 403):
            return AuthenticationError("llm api key rejected", status_code=status, **kw)
        if status == 404:
            return NotFoundError("llm model or endpoint not found", status_code=status, **kw)
        if status in (400, 422):
            return BadRequestError("llm request rejected", status_code=status, **kw)
        return UnexpectedStatusError("llm unexpected status", status_code=status, **kw)
    return ConnectorError(f"llm client error: {type(exc).__name__}", **kw)


class LlmClient(AsyncClosing):
    """Sends chat completions with structured output to one endpoint.

    Build it with settings (it creates the SDK client, optionally over an injected ``httpx2``
    client) or hand it a ready ``openai.AsyncOpenAI``. Close it with :meth:`aclose` or ``async with``.
    """

    def __init__(
        self,
        settings: LlmSettings,
        *,
        http_client: httpx2.AsyncClient | None = None,
        openai_client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.settings = settings
        self._openai = openai_client or create_openai_client(settings, http_client=http_client)

    async def aclose(self) -> None:
        """Close the SDK client and its HTTP connections."""
        await self._openai.close()

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: Mapping[str, Any] | None = None,
        schema_name: str = "response",
    ) -> Completion:
        """Send ``messages``; with ``json_schema`` ask for structured output matching it.

        Raises a :class:`ConnectorError` subclass when the SDK gave up (see the module docstring);
        never an ``openai`` exception.
        """
        settings = self.settings
        kwargs: dict[str, Any] = {
            "model": settings.model,
            "messages": [dict(m) for m in messages],
            "temperature": settings.temperature,
            settings.token_parameter: settings.max_output_tokens,
        }
        if json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": dict(json_schema), "strict": settings.strict_schema},
            }
        started = time.perf_counter()
        try:
            async with asyncio.timeout(settings.effective_deadline_s):
                response = await self._openai.chat.completions.create(**kwargs)
        except TimeoutError as exc:
            raise LlmTimeoutError(
                f"llm call exceeded deadline_s={settings.effective_deadline_s:g}", method="POST", path=_PATH
            ) from exc
        except openai.OpenAIError as exc:
            error = _translate(exc)
            logger.warning(
                "llm call failed model=%s error=%s status=%s elapsed_s=%.3f",
                settings.model, type(error).__name__, error.status_code, time.perf_counter() - started,
            )
            raise error from exc
        elapsed = time.perf_counter() - started
        if not response.choices:
            raise ResponseFormatError("llm response has no choices", method="POST", path=_PATH)
        choice = response.choices[0]
        usage = response.usage
        completion = Completion(
            content=choice.message.content,
            refusal=getattr(choice.message, "refusal", None),
            model=response.model or settings.model,
            finish_reason=str(choice.finish_reason or ""),
            input_tokens=int(usage.prompt_tokens) if usage else 0,
            output_tokens=int(usage.completion_tokens) if usage else 0,
            elapsed_s=elapsed,
        )
        logger.debug(
            "llm call ok model=%s finish_reason=%s tokens_in=%d tokens_out=%d elapsed_s=%.3f",
            completion.model, completion.finish_reason, completion.input_tokens, completion.output_tokens, elapsed,
        )
        return completion

