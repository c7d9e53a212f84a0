"""The Slack approval channel end to end: a request posted to the Slack simulator with its buttons
and signed link, and clicks on the interactivity endpoint that become votes only when Slack's
signature verifies, the timestamp is fresh and the Slack user maps to an approver."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.interactivity import APPROVE_ACTION, REJECT_ACTION, sign
from connectors.slack.simulator import ChatWebhookSimulator
from processors.remediation.memory_desk import InMemoryDesk
from streams.console.links import LinkSigner
from streams.console.slack import SlackApprovalChannel, announce_request
from tests.connectors.slack.test_interactivity import SECRET, click_body
from tests.streams.console.desk_factory import Clock, desk_with, make_request


@pytest.fixture
def channel() -> tuple[InMemoryDesk, Clock, httpx.AsyncClient]:
    clock = Clock()
    desk = desk_with(make_request("req-prod", required=2), clock=clock)
    slack = SlackApprovalChannel(desk, signing_secret=SECRET, approvers={"u0alice": "alice", "U0BOB": "bob"},
                                 clock=clock.seconds)
    app = Starlette(routes=slack.routes())
    return desk, clock, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")


async def _click(http: httpx.AsyncClient, clock: Clock, body: bytes, *, age_s: float = 0,
                 secret: str = SECRET) -> httpx.Response:
    timestamp = str(int(clock.seconds() - age_s))
    return await http.post("/slack/interactions", content=body, headers={
        "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": timestamp,
        "x-slack-signature": sign(secret, timestamp, body)})


async def test_signed_clicks_of_two_mapped_users_approve_the_request(channel: tuple[InMemoryDesk, Clock,
                                                                                     httpx.AsyncClient]) -> None:
    desk, clock, http = channel
    value = f"req-prod|{desk.get('req-prod').plan_digest}"  # type: ignore[union-attr]
    first = await _click(http, clock, click_body(APPROVE_ACTION, value, user="U0ALICE"))
    assert (first.status_code, first.json()["verdict"]) == (200, "recorded")
    second = await _click(http, clock, click_body(APPROVE_ACTION, value, user="U0BOB"))
    assert second.json() == {"verdict": "decided", "reason": "approved"}
    assert [(v.approver, v.channel) for v in desk.votes] == [("alice", "slack"), ("bob", "slack")]


async def test_a_reject_click_rejects(channel: tuple[InMemoryDesk, Clock, httpx.AsyncClient]) -> None:
    desk, clock, http = channel
    value = f"req-prod|{desk.get('req-prod').plan_digest}"  # type: ignore[union-attr]
    await _click(http, clock, click_body(REJECT_ACTION, value, user="U0BOB"))
    assert desk.get("req-prod").status == "rejected"  # type: ignore[union-attr]
    assert (desk.votes[0].approver, desk.votes[0].reason) == ("bob", "rejected with the Slack button")


@pytest.mark.parametrize(("case", "status"), [("bad signature", 401), ("replayed", 401), ("unknown user", 403),
                                              ("not a click", 400)])
async def test_refused_clicks_record_nothing(channel: tuple[InMemoryDesk, Clock, httpx.AsyncClient],
                                             case: str, status: int) -> None:
    desk, clock, http = channel
    value = f"req-prod|{desk.get('req-prod').plan_digest}"  # type: ignore[union-attr]
    if case == "bad signature":
        answer = await _click(http, clock, click_body(APPROVE_ACTION, value), secret="not-the-signing-secret")
    elif case == "replayed":
        answer = await _click(http, clock, click_body(APPROVE_ACTION, value), age_s=301)
    elif case == "unknown user":
        answer = await _click(http, clock, click_body(APPROVE_ACTION, value, user="U0MALLORY"))
    else:
        answer = await _click(http, clock, b"payload=%7B%7D")
    assert answer.status_code == status
    assert desk.votes == [] and desk.get("req-prod").approvers == ()  # type: ignore[union-attr]


async def test_the_request_is_posted_to_slack_with_buttons_and_a_link_the_console_accepts() -> None:
    clock = Clock()
    links = LinkSigner(b"link-key-for-tests-0123456789", 3600, clock.seconds)
    sim = ChatWebhookSimulator(rate_per_s=None)
    settings = ChatWebhookSettings(kind=ChatKind.SLACK, url=f"http://sim/services/{sim.slack_path}")  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        async with ChatWebhookClient(settings, client=http) as client:
            await announce_request(client, make_request("req-prod"), links=links,
                                   console_base_url="https://console.example/")
    [message] = sim.messages
    link = message["body"]["blocks"][-1]["elements"][2]["url"]
    assert link.startswith("https://console.example/r/req-prod?sig=")
    assert links.valid("req-prod", link.split("sig=")[1])
