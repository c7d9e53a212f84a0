"""The LLM connector: settings, a thin ``openai`` SDK client and a local OpenAI-compatible simulator."""

from __future__ import annotations

from connectors.llm.client import (
    ChatMessage,
    Completion,
    LlmClient,
    LlmTimeoutError,
    create_openai_client,
)
from connectors.llm.settings import LlmSettings

__all__ = ["ChatMessage", "Completion", "LlmClient", "LlmSettings", "LlmTimeoutError", "create_openai_client"]
