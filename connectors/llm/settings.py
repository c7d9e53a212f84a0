"""Typed settings for an OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama).

The LLM client takes an :class:`LlmSettings` and never reads the environment; it is the ``llm`` section
of the settings tree (``PRISMAFLOW_LLM_*`` variables or secret files). ``api_key`` unset means no
endpoint is configured: the analysis stage then writes every analysis offline, and
:func:`~connectors.llm.client.create_openai_client` refuses the settings. Unknown keys are rejected.

Retries: ``max_retries`` is handed to the ``openai`` SDK, which is the *only* transport retry loop
(408/409/429/5xx, connection errors and timeouts, exponential backoff honouring ``Retry-After`` and
``retry-after-ms``). Prismaflow adds no retry loop of its own around it; its one extra request is the
*repair* attempt when the answer is not valid JSON for the schema (a content problem, not a transport
one). ``deadline_s`` bounds the whole call, SDK retries included.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.url_fields import HttpBaseUrl
__all__ = ["LlmSettings"]


class LlmSettings(BaseModel):
    """Where and how to reach one OpenAI-compatible endpoint, and what its tokens cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: HttpBaseUrl = Field(
        default="https://api.openai.com/v1",
        description="OpenAI-compatible endpoint (Azure, vLLM, Ollama: their /v1 URL)",
    )
    model: str = Field(min_length=1, description="Model or deployment name")
    api_key: SecretStr | None = Field(default=None, description="API key (secret); unset: offline analyser only")
    timeout_s: float = Field(default=60.0, gt=0, description="Per request (per attempt, the SDK's request timeout)")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of connecting to the endpoint")
    max_retries: int = Field(
        default=2, ge=0, le=10, description="The SDK's own retries (429/5xx/timeouts); no others stack on them"
    )
    deadline_s: float | None = Field(
        default=None,
        gt=0,
        description="Bound on one whole call with SDK retries; unset: timeout_s * (max_retries + 1) + 20",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature")
    max_output_tokens: int = Field(default=1500, ge=64, le=32_000, description="Output tokens of one answer at most")
    token_parameter: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description="Which request field carries max_output_tokens; newer OpenAI models want max_completion_tokens",
    )
    strict_schema: bool = Field(default=True, description="Send json_schema with strict=true")
    price_per_1k_input_usd: float = Field(default=0.00015, ge=0.0, description="Price of 1,000 input tokens (USD)")
    price_per_1k_output_usd: float = Field(default=0.0006, ge=0.0, description="Price of 1,000 output tokens (USD)")

    @property
    def configured(self) -> bool:
        """True when an API key is set: the endpoint can be called."""
        return self.api_key is not None

    @property
    def effective_deadline_s(self) -> float:
        """The bound on one call including every SDK retry and its backoff."""
        if self.deadline_s is not None:
            return self.deadline_s
        return self.timeout_s * (self.max_retries + 1) + 20.0

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """What ``input_tokens`` + ``output_tokens`` cost at the configured prices."""
        return (
            input_tokens / 1000.0 * self.price_per_1k_input_usd
            + output_tokens / 1000.0 * self.price_per_1k_output_usd
        )
