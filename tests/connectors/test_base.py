"""The shared HTTP retry policy: what is retried, how long it waits, and what it raises."""

from __future__ import annotations

import email.utils
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from connectors.base import (
    AuthenticationError,
    BadRequestError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RetriesExhaustedError,
    RetryPolicy,
    TransientError,
    UnexpectedStatusError,
    parse_retry_after,
    send_with_retry,
)
from processors.errors import ExternalServiceError

URL = "https://api.example.test/v2/alert"
Script = list[httpx.Response | Exception]


class Recorder:
    """A MockTransport handler that replays a script of responses and counts calls per route."""

    def __init__(self, script: Script) -> None:
        self.script = list(script)
        self.calls: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls[f"{request.method} {request.url.path}"] += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


class Sleeps:
    def __init__(self) -> None:
        self.values: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.values.append(seconds)


async def run(
    script: Script,
    policy: RetryPolicy | None = None,
    *,
    rng: Callable[[], float] = lambda: 0.5,
    clock: Callable[[], float] = lambda: 1_700_000_000.0,
    replay_safe: bool = True,
) -> tuple[httpx.Response | ConnectorError, Recorder, Sleeps]:
    recorder, sleeps = Recorder(script), Sleeps()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        def build() -> httpx.Request:
            return client.build_request(
                "POST", URL + "?secretquery=1", headers={"x-redlock-auth": "TOKEN-123"}, json={}
            )
        try:
            result: httpx.Response | ConnectorError = await send_with_retry(
                client, build, policy or RetryPolicy(), sleep=sleeps, rng=rng, clock=clock,
                replay_safe=replay_safe)
        except ConnectorError as exc:
            result = exc
    return result, recorder, sleeps


async def test_a_burst_of_5xx_is_survived_with_jittered_backoff() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=0.5, max_delay_s=30)
    script: Script = [httpx.Response(503), httpx.Response(502), httpx.Response(500),
                      httpx.Response(200, json={"ok": True})]
    result, recorder, sleeps = await run(script, policy, rng=lambda: 0.5)
    assert isinstance(result, httpx.Response) and result.json() == {"ok": True}
    assert recorder.calls["POST /v2/alert"] == 4
    assert sleeps.values == [0.25, 0.5, 1.0]  # 0.5 * min(30, 0.5 * 2**n)


async def test_transport_errors_and_timeouts_are_retried() -> None:
    script: Script = [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                      httpx.Response(200)]
    result, recorder, _ = await run(script)
    assert isinstance(result, httpx.Response) and result.status_code == 200
    assert recorder.calls["POST /v2/alert"] == 3


async def test_a_create_whose_answer_was_lost_is_not_sent_again() -> None:
    # A read timeout after the request left: the server may have created the issue. Sending it again
    # could create a second one, so the caller gets the ambiguity and looks for what it created.
    for lost in (httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed"), httpx.ReadError("reset")):
        result, recorder, _ = await run([lost, httpx.Response(201)], replay_safe=False)
        assert isinstance(result, TransientError) and type(lost).__name__ in str(result)
        assert recorder.calls["POST /v2/alert"] == 1


async def test_a_create_that_surely_did_not_happen_is_retried() -> None:
    script: Script = [httpx.ConnectError("refused"), httpx.ConnectTimeout("no answer"), httpx.Response(429),
                      httpx.Response(503), httpx.Response(201)]
    result, recorder, _ = await run(script, replay_safe=False)
    assert isinstance(result, httpx.Response) and result.status_code == 201
    assert recorder.calls["POST /v2/alert"] == 5


async def test_a_create_answered_500_or_504_is_not_sent_again() -> None:
    for status in (500, 502, 504):
        result, recorder, _ = await run([httpx.Response(status), httpx.Response(201)], replay_safe=False)
        assert isinstance(result, ConnectorError) and result.status_code == status
        assert recorder.calls["POST /v2/alert"] == 1


async def test_408_is_retried() -> None:
    result, recorder, _ = await run([httpx.Response(408), httpx.Response(204)])
    assert isinstance(result, httpx.Response) and result.status_code == 204
    assert recorder.calls["POST /v2/alert"] == 2


async def test_429_retry_after_seconds_is_what_the_sleep_gets() -> None:
    script: Script = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)]
    result, recorder, sleeps = await run(script)
    assert isinstance(result, httpx.Response)
    assert sleeps.values == [7.0]
    assert recorder.calls["POST /v2/alert"] == 2


async def test_retry_after_as_http_date_is_measured_on_the_injected_clock() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    script: Script = [httpx.Response(503, headers={"Retry-After": date}), httpx.Response(200)]
    _, _, sleeps = await run(script, clock=lambda: now)
    assert sleeps.values == [pytest.approx(12.0)]


async def test_prisma_rate_limit_headers_give_the_wait_when_retry_after_is_missing() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Replenish-Rate": "2",
               "X-RateLimit-Burst-Capacity": "10", "X-RateLimit-Requested-Tokens": "1"}
    _, _, sleeps = await run([httpx.Response(429, headers=headers), httpx.Response(200)])
    assert sleeps.values == [0.5]


async def test_server_hints_are_capped() -> None:
    policy = RetryPolicy(max_server_delay_s=20)
    script: Script = [httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200)]
    _, _, sleeps = await run(script, policy)
    assert sleeps.values == [20.0]


async def test_400_is_not_retried_and_names_the_call_without_secrets() -> None:
    body = {"error": {"code": "BadArgument", "message": "bad filter"}}
    result, recorder, sleeps = await run([httpx.Response(400, json=body)])
    assert isinstance(result, BadRequestError)
    assert isinstance(result, ExternalServiceError)
    assert recorder.calls["POST /v2/alert"] == 1 and sleeps.values == []
    assert (result.status_code, result.method, result.path) == (400, "POST", "/v2/alert")
    assert "BadArgument" in result.body_excerpt
    assert "TOKEN-123" not in str(result) and "secretquery" not in str(result)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (403, AuthenticationError), (404, NotFoundError),
     (422, BadRequestError), (405, UnexpectedStatusError), (409, UnexpectedStatusError)],
)
async def test_other_4xx_map_to_typed_errors_at_once(
    status: int, error: type[ConnectorError]
) -> None:
    result, recorder, _ = await run([httpx.Response(status)])
    assert type(result) is error
    assert recorder.calls["POST /v2/alert"] == 1


async def test_an_empty_error_body_falls_back_to_x_redlock_status() -> None:
    detail = '[{"i18nKey":"invalid_credentials","severity":"error","subject":null}]'
    result, _, _ = await run([httpx.Response(401, headers={"x-redlock-status": detail})])
    assert isinstance(result, AuthenticationError)
    assert "invalid_credentials" in result.body_excerpt


async def test_retries_exhausted_raises_with_the_last_error() -> None:
    policy = RetryPolicy(max_attempts=3)
    result, recorder, sleeps = await run([httpx.Response(503, text="down")], policy)
    assert isinstance(result, RetriesExhaustedError)
    assert result.attempts == 3 and result.status_code == 503
    assert recorder.calls["POST /v2/alert"] == 3
    assert len(sleeps.values) == 2  # no sleep after the final attempt
    assert isinstance(result.__cause__, ConnectorError)


async def test_exhausted_429_keeps_the_rate_limited_cause() -> None:
    result, _, _ = await run([httpx.Response(429)], RetryPolicy(max_attempts=2))
    assert isinstance(result, RetriesExhaustedError)
    assert isinstance(result.last_error, RateLimitedError)


@pytest.mark.parametrize("retry", range(8))
@pytest.mark.parametrize("draw", [0.0, 0.3, 0.999999])
def test_backoff_stays_within_full_jitter_bounds(retry: int, draw: float) -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=10)
    ceiling = min(10.0, 0.5 * 2**retry)
    delay = policy.backoff_s(retry, lambda: draw)
    assert 0.0 <= delay <= ceiling
    assert delay == pytest.approx(draw * ceiling)


def test_backoff_with_the_real_rng_is_bounded() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5)
    assert all(0 <= policy.backoff_s(r) <= min(5, 2**r) for r in range(10) for _ in range(50))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None), (None, None), ("nan", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=0.0) == expected


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay_s=-1)
