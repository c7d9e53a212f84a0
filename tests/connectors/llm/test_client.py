"""The real ``openai`` SDK path against the simulator: structured output, retries, timeouts, errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest

from connectors.base import AuthenticationError, RateLimitedError, TransientError
from connectors.llm.client import ChatMessage, LlmClient, LlmTimeoutError
from connectors.llm.simulator import LlmSimulator

COMPLETIONS = "POST /v1/chat/completions"
SCHEMA = {"type": "object", "properties": {"summary": {"type": "string"}, "confidence": {"type": "number"}},
          "required": ["summary", "confidence"], "additionalProperties": False}
MESSAGES = [ChatMessage(role="system", content="You analyse alerts."),
            ChatMessage(role="user", content='<alert_data>{"alert": {"policy_name": "AWS S3 bucket public"}, '
                                             '"resource": {"name": "b1", "cloud": "aws"}}</alert_data>')]


async def calls(admin: httpx2.AsyncClient) -> int:
    stats = (await admin.get("/_sim/stats")).json()
    return int(stats["calls"].get(COMPLETIONS, 0))


async def test_structured_answer_follows_the_schema_and_reports_usage(make_client: Callable[..., LlmClient]) -> None:
    completion = await make_client().complete(MESSAGES, json_schema=SCHEMA, schema_name="draft")

    assert set(json.loads(completion.content or "")) == {"summary", "confidence"}
    assert completion.refusal is None
    assert completion.model == "prismaflow-sim-1"
    assert completion.input_tokens > 0 and completion.output_tokens > 0


async def test_request_carries_json_schema_response_format_and_the_token_cap(
    make_client: Callable[..., LlmClient], sim: LlmSimulator
) -> None:
    await make_client(max_output_tokens=700).complete(MESSAGES, json_schema=SCHEMA, schema_name="draft")

    body = sim.requests[0]
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "draft", "schema": SCHEMA, "strict": True}}
    assert body["max_tokens"] == 700


async def test_sdk_retries_429_then_succeeds(make_client: Callable[..., LlmClient], sim: LlmSimulator,
                                             admin: httpx2.AsyncClient) -> None:
    await admin.post("/_sim/faults", json={"kind": "rate_limit", "count": 2})

    completion = await make_client(max_retries=2).complete(MESSAGES, json_schema=SCHEMA)

    assert completion.content
    assert await calls(admin) == 3  # SDK: 1 try + 2 retries, no loop of ours on top


async def test_persistent_429_raises_rate_limited_after_sdk_retries(make_client: Callable[..., LlmClient],
                                                                    sim: LlmSimulator, admin: httpx2.AsyncClient) -> None:
    sim.add_fault("rate_limit", count=10)

    with pytest.raises(RateLimitedError):
        await make_client(max_retries=2).complete(MESSAGES)
    assert await calls(admin) == 3


async def test_persistent_500_raises_transient_after_sdk_retries(make_client: Callable[..., LlmClient],
                                                                 sim: LlmSimulator, admin: httpx2.AsyncClient) -> None:
    sim.add_fault("server_error", count=10)

    with pytest.raises(TransientError) as caught:
        await make_client(max_retries=1).complete(MESSAGES)
    assert caught.value.status_code == 500
    assert await calls(admin) == 2


async def test_timeout_is_retried_by_the_sdk_then_raised_as_ours(make_client: Callable[..., LlmClient],
                                                                 sim: LlmSimulator, admin: httpx2.AsyncClient) -> None:
    sim.add_fault("timeout", count=5, sleep_s=5.0)

    with pytest.raises(LlmTimeoutError):
        await make_client(timeout_s=0.1, max_retries=1).complete(MESSAGES)
    assert await calls(admin) == 2


async def test_overall_deadline_bounds_the_call(make_client: Callable[..., LlmClient], sim: LlmSimulator) -> None:
    sim.add_fault("timeout", count=5, sleep_s=5.0)

    with pytest.raises(LlmTimeoutError, match="deadline"):
        await make_client(timeout_s=3.0, max_retries=0, deadline_s=0.2).complete(MESSAGES)


async def test_wrong_api_key_is_not_retried(make_client: Callable[..., LlmClient], admin: httpx2.AsyncClient) -> None:
    with pytest.raises(AuthenticationError):
        await make_client(api_key="wrong").complete(MESSAGES)
    assert await calls(admin) == 1


async def test_refusal_is_returned_not_raised(make_client: Callable[..., LlmClient], sim: LlmSimulator) -> None:
    sim.add_fault("refusal")

    completion = await make_client().complete(MESSAGES, json_schema=SCHEMA)

    assert completion.content is None
    assert completion.refusal and "can't help" in completion.refusal


async def test_api_key_never_appears_in_errors(make_client: Callable[..., LlmClient], sim: LlmSimulator) -> None:
    sim.add_fault("server_error", count=10)

    with pytest.raises(TransientError) as caught:
        await make_client(max_retries=0, api_key="sim-key").complete(MESSAGES)
    assert "sim-key" not in str(caught.value)
