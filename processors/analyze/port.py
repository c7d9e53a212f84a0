"""The completion port: what the analysis stage says to an LLM and what it hears back.

The analysis stage talks to any OpenAI-compatible endpoint through this small contract, so neither
side knows the other: :class:`CompletionClient` is the :class:`~typing.Protocol` a client must
satisfy (:class:`connectors.llm.client.LlmClient` implements it over the ``openai`` SDK; tests pass
fakes), :class:`ChatMessage` and :class:`Completion` are the values that cross it. ``processors``
owns the types; ``connectors/llm`` imports them, never the other way round.

Failures: a client raises a :class:`processors.errors.ExternalServiceError` subclass when the
endpoint failed after whatever retries it does itself (``connectors.llm`` raises the connector
tree of :mod:`connectors.base`, timeouts as :class:`connectors.llm.client.LlmTimeoutError`); it
never lets a foreign exception through. A refusal is not a failure: it comes back in
:attr:`Completion.refusal`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

__all__ = ["ChatMessage", "Completion", "CompletionClient"]


class ChatMessage(TypedDict):
    """One chat message as the endpoint takes it."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    """One answer: exactly one of ``content`` and ``refusal`` is normally set."""

    content: str | None
    refusal: str | None
    model: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    elapsed_s: float


class CompletionClient(Protocol):
    """What the analysis stage needs from an LLM client."""

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: Mapping[str, Any] | None = None,
        schema_name: str = "response",
    ) -> Completion:
        """Send ``messages``; with ``json_schema`` ask for structured output matching it."""
        ...

    async def aclose(self) -> None:
        """Release the client's connections."""
        ...
