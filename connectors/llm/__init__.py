"""The LLM connector: settings, a thin ``openai`` SDK client and a local OpenAI-compatible simulator.

The exports load on first use (PEP 562): importing :mod:`connectors.llm.settings` (every command's
settings tree does) must not load the ``openai`` SDK, which only the client needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.llm.client import ChatMessage, Completion, LlmClient, LlmTimeoutError, create_openai_client
    from connectors.llm.settings import LlmSettings

__all__ = ["ChatMessage", "Completion", "LlmClient", "LlmSettings", "LlmTimeoutError", "create_openai_client"]

_SETTINGS = "connectors.llm.settings"


def __getattr__(name: str) -> Any:
    """The export ``name``, imported from its module on first use."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _SETTINGS if name == "LlmSettings" else "connectors.llm.client"
    return getattr(importlib.import_module(module), name)
