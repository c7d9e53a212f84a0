"""ChatWebhookClient against the simulator (ASGITransport) and scripted MockTransports."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from connectors.base import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    ResponseFormatError,
    RetriesExhaustedError,
    RetryPolicy,
    UnexpectedStatusError,
)
from connectors.simkit import SimClock
from connectors.slack.blocks import build_slack_message
from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.simulator import ChatWebhookSimulator
from connectors.slack.teams import build_teams_payload
from tests.factories import make_analysis, make_scored_alert

SLACK_HOST = "https://hooks.slack.com"
TEAMS_HOST = "https://prod-01.westeurope.logic.azure.com"


class Sleeps:
    def __init__(self) -> None:
        self.values: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.values.append(seconds)


@pytest.fixture
def sim(clock: SimClock) -> ChatWebhookSimulator:
    return ChatWebhookSimulator(clock=clock)


def _policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay_s=1.0, max_delay_s=8.0)


def slack_client(
    http: httpx.AsyncClient, sim: ChatWebhookSimulator, sleeps: Sleeps | None = None, path: str | None = None
) -> ChatWebhookClient:
    settings = ChatWebhookSettings(
        kind=ChatKind.SLACK, url=SecretStr(f"{SLACK_HOST}/services/{path or sim.slack_path}"), retry=_policy()
    )
    return ChatWebhookClient(settings, client=http, sleep=sleeps or Sleeps(), rng=lambda: 0.5)


def teams_client(http: httpx.AsyncClient, sim: ChatWebhookSimulator, sleeps: Sleeps | None = None,
                 sig: str | None = None) -> ChatWebhookClient:
    path = sim.teams_path if sig is None else sim.teams_path.replace(sim.teams_sig, sig)
    settings = ChatWebhookSettings(kind=ChatKind.TEAMS, url=SecretStr(TEAMS_HOST + path), retry=_policy())
    return ChatWebhookClient(settings, client=http, sleep=sleeps or Sleeps(), rng=lambda: 0.5)


def _slack_body() -> dict[str, object]:
    return build_slack_message(make_scored_alert(), analysis=make_analysis(), ticket_url="https://t.example/SEC-1")


async def test_slack_post_is_accepted_and_recorded(http: httpx.AsyncClient, sim: ChatWebhookSimulator) -> None:
    await slack_client(http, sim).post(_slack_body())
    assert len(sim.messages) == 1 and sim.messages[0]["body"] == _slack_body()
    listed = (await http.get("http://sim/_sim/messages")).json()
    assert listed[0]["target"] == "slack"


async def test_teams_post_is_accepted_with_202(http: httpx.AsyncClient, sim: ChatWebhookSimulator) -> None:
    await teams_client(http, sim).post(build_teams_payload(make_scored_alert()))
    assert sim.messages[0]["target"] == "teams"
    assert sim.render_failures == []


async def test_slack_429_waits_retry_after_then_succeeds(
    http: httpx.AsyncClient, sim: ChatWebhookSimulator, clock: SimClock
) -> None:
    client = slack_client(http, sim)
    client._sleep = clock.sleep  # waiting moves the simulator's clock, which refills its bucket
    for _ in range(5):  # the burst
        await client.post(_slack_body())
    assert clock.sleeps == []
    await client.post(_slack_body())  # bucket empty: 429 Retry-After 1, then accepted
    assert clock.sleeps == [1.0]
    stats = (await http.get("http://sim/_sim/stats")).json()
    assert stats["statuses"]["POST /services"] == {"200": 6, "429": 1}


@pytest.mark.parametrize(
    ("state_or_path", "error", "body"),
    [
        ("unknown", NotFoundError, "no_service"),
        ("revoked", AuthenticationError, "invalid_token"),
        ("archived", UnexpectedStatusError, "channel_is_archived"),
    ],
)
async def test_slack_hook_errors_are_not_retried(
    http: httpx.AsyncClient, sim: ChatWebhookSimulator, state_or_path: str, error: type[Exception], body: str
) -> None:
    path = "T1/B1/unknownsecret"
    if state_or_path != "unknown":
        sim.slack_hooks[path] = state_or_path
    sleeps = Sleeps()
    with pytest.raises(error) as caught:
        await slack_client(http, sim, sleeps, path=path).post(_slack_body())
    assert caught.value.body_excerpt == body  # type: ignore[attr-defined]
    assert sleeps.values == []


@pytest.mark.parametrize(
    ("payload", "answer"),
    [({}, "no_text"), ({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}, "invalid_blocks"),
     ({"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]}, "invalid_blocks"),
     ({"blocks": [{"type": "section"}] * 51}, "invalid_blocks")],
)
async def test_slack_bad_payloads_are_bad_requests(
    http: httpx.AsyncClient, sim: ChatWebhookSimulator, payload: dict[str, object], answer: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        await slack_client(http, sim).post(payload)
    assert caught.value.body_excerpt == answer


async def test_slack_non_json_is_invalid_payload(http: httpx.AsyncClient, sim: ChatWebhookSimulator) -> None:
    response = await http.post(f"http://sim/services/{sim.slack_path}", content=b"payload=nope")
    assert (response.status_code, response.text) == (400, "invalid_payload")


async def test_secret_url_never_appears_in_errors_or_logs(
    http: httpx.AsyncClient, sim: ChatWebhookSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors")
    await http.post("http://sim/_sim/faults", json={"target": "slack", "status": 500, "body": "rollup_error", "count": 5})
    with pytest.raises(RetriesExhaustedError) as caught:
        await slack_client(http, sim).post(_slack_body())
    assert caught.value.last_error.status_code == 500
    secret = sim.slack_path.split("/")[-1]
    assert secret not in str(caught.value) and secret not in repr(caught.value.last_error)
    assert caught.value.path == "slack-webhook"
    connector_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("connectors"))
    assert "slack-webhook" in connector_logs and secret not in connector_logs
    settings = ChatWebhookSettings(kind=ChatKind.SLACK, url=SecretStr(f"{SLACK_HOST}/services/{sim.slack_path}"))
    assert secret not in repr(settings) and secret not in str(settings.model_dump())


async def test_teams_signature_is_checked(http: httpx.AsyncClient, sim: ChatWebhookSimulator) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await teams_client(http, sim, sig="wrong").post(build_teams_payload(make_scored_alert()))
    assert "wrong" not in str(caught.value)


async def test_teams_render_failures_still_get_202(http: httpx.AsyncClient, sim: ChatWebhookSimulator) -> None:
    client = teams_client(http, sim)
    await client.post({"type": "message", "attachments": [{"contentType": "text/plain", "content": {}}]})
    await client.post({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                       "content": {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "x" * 30_000}]}}]})
    failures = (await http.get("http://sim/_sim/render_failures")).json()
    assert [f["reason"].split(":")[0] for f in failures] == ["contentType must be the Adaptive Card type", "MessageSizeExceeded"]
    assert sim.messages == []


async def test_teams_5xx_is_retried_with_backoff(http: httpx.AsyncClient, sim: ChatWebhookSimulator) -> None:
    await http.post("http://sim/_sim/faults", json={"target": "teams", "status": 502, "count": 2})
    sleeps = Sleeps()
    await teams_client(http, sim, sleeps).post(build_teams_payload(make_scored_alert()))
    assert sleeps.values == [0.5, 1.0]  # full jitter, rng=0.5
    assert len(sim.messages) == 1


Handler = Callable[[httpx.Request], httpx.Response]


def _scripted(responses: list[httpx.Response | Exception]) -> tuple[httpx.AsyncClient, Counter[str]]:
    calls: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.method] += 1
        step = responses.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), calls


async def test_slack_200_without_ok_is_a_format_error() -> None:
    http, calls = _scripted([httpx.Response(200, text="1")])
    settings = ChatWebhookSettings(kind=ChatKind.SLACK, url=SecretStr(f"{SLACK_HOST}/services/T/B/X"))
    with pytest.raises(ResponseFormatError):
        await ChatWebhookClient(settings, client=http).post({"text": "x"})
    assert calls["POST"] == 1


async def test_transport_errors_and_legacy_teams_throttling_are_retried() -> None:
    http, calls = _scripted([
        httpx.ConnectError("refused"),
        httpx.Response(200, text="Microsoft Teams endpoint returned HTTP error 429"),
        httpx.Response(200, text="1"),
    ])
    settings = ChatWebhookSettings(kind=ChatKind.TEAMS, url=SecretStr("https://x.webhook.office.com/webhookb2/abc"), retry=_policy())
    sleeps = Sleeps()
    await ChatWebhookClient(settings, client=http, sleep=sleeps, rng=lambda: 0.5).post({"type": "message"})
    assert calls["POST"] == 3 and sleeps.values == [0.5, 1.0]


async def test_rate_limit_without_retry_after_gives_up_as_exhausted() -> None:
    http, calls = _scripted([httpx.Response(429, text="rate_limited")] * 3)
    settings = ChatWebhookSettings(kind=ChatKind.SLACK, url=SecretStr(f"{SLACK_HOST}/services/T/B/X"), retry=_policy())
    with pytest.raises(RetriesExhaustedError) as caught:
        await ChatWebhookClient(settings, client=http, sleep=Sleeps()).post({"text": "x"})
    assert isinstance(caught.value.last_error, RateLimitedError) and calls["POST"] == 3


def test_settings_reject_non_http_urls_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as caught:
        ChatWebhookSettings(kind=ChatKind.SLACK, url="hooks.slack.com/services/T/B/SECRETX")  # type: ignore[arg-type]
    assert "SECRETX" not in str(caught.value)
