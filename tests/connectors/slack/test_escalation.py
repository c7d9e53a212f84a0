"""The escalation message for an overdue approval: what it says, in which channel, with untrusted text
escaped, and accepted by the simulator's Block Kit and Teams envelope rules."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest

from connectors.slack.client import ChatKind
from connectors.slack.escalation import build_escalation_message, time_left
from connectors.slack.simulator import ChatWebhookSimulator, validate_blocks
from tests.streams.console.desk_factory import T0, make_request

CONSOLE = "https://console.example.com/requests/req-1"


def _fields(body: dict[str, object]) -> dict[str, str]:
    blocks = body["blocks"]
    assert isinstance(blocks, list)
    return {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1]
            for b in blocks if b["type"] == "section" for f in b.get("fields", [])}


def test_the_slack_escalation_names_the_request_its_risk_approvals_and_time_left_in_the_channel() -> None:
    request = make_request(required=2, expires_in=timedelta(hours=6)).model_copy(update={"approvers": ("alice",)})
    body = build_escalation_message(ChatKind.SLACK, request, channel="#sec-oncall", console_url=CONSOLE,
                                    now=T0 + timedelta(hours=3, minutes=50))
    assert body["channel"] == "#sec-oncall"
    assert validate_blocks(body["blocks"]) is None
    fields = _fields(body)
    assert fields["*Request*"] == "req-1" and fields["*Alert*"] == "P-1001"
    assert fields["*Resource*"] == "arn:aws:s3:::payments-exports"
    assert fields["*Approvals*"] == "1 of 2" and fields["*Expires in*"] == "2h 10m"
    assert fields["*Risk*"] == "change risk medium, environment prod"
    [button] = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["url"] == CONSOLE


def test_untrusted_text_cannot_mention_the_channel_or_make_a_link() -> None:
    hostile = "<!channel> pay now <https://evil.example|click> & more"
    request = make_request(summary=hostile, resource_id=hostile)
    body = build_escalation_message(ChatKind.SLACK, request, channel="#sec-oncall", console_url=CONSOLE, now=T0)
    text = json.dumps(body)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; pay now &lt;https://evil.example|click&gt; &amp; more" in text
    teams = json.dumps(build_escalation_message(ChatKind.TEAMS, make_request(summary="see [here](https://evil.example)"),
                                                channel="#sec-oncall", console_url=CONSOLE, now=T0))
    assert "](https://evil" not in teams


def test_no_channel_named_posts_to_the_webhooks_own_channel() -> None:
    body = build_escalation_message(ChatKind.SLACK, make_request(), channel="", console_url=CONSOLE, now=T0)
    assert "channel" not in body


@pytest.mark.parametrize(("left", "shown"), [
    (timedelta(hours=25, minutes=3), "25h 03m"), (timedelta(minutes=42), "42m"), (timedelta(seconds=20), "under a minute"),
    (timedelta(0), "expired"), (timedelta(minutes=-5), "expired")])
def test_time_left_is_said_for_people(left: timedelta, shown: str) -> None:
    assert time_left(T0 + left, T0) == shown
    assert time_left(None, T0) == "no deadline"


def test_the_teams_escalation_is_a_card_the_workflow_accepts() -> None:
    simulator = ChatWebhookSimulator(rate_per_s=None)
    body = build_escalation_message(ChatKind.TEAMS, make_request(), channel="#sec-oncall", console_url=CONSOLE,
                                    now=T0)

    async def post() -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator), base_url="http://chat.sim") as http:
            return (await http.post(simulator.teams_path, json=body)).status_code

    assert asyncio.run(post()) == 202
    assert not simulator.render_failures and len(simulator.messages) == 1
    facts = {f["title"]: f["value"] for f in body["attachments"][0]["content"]["body"][2]["facts"]}
    assert facts["Escalated to"] == "#sec-oncall" and facts["Approvals"] == "0 of 2"
