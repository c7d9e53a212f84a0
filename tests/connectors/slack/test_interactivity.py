"""Slack approval buttons: the request message (checked by the simulator's Block Kit rules), the
signature check and the click parser.

The click bodies are built from Slack's documented ``block_actions`` payload (docs.slack.dev,
reference/interaction-payloads/block_actions-payload: ``type``, ``user.id``, ``team.id``,
``actions[].action_id``/``value``, sent form-encoded as ``payload=<JSON>``), not captured traffic.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from connectors.slack.interactivity import (APPROVE_ACTION, REJECT_ACTION, SlackRequestError, SlackSignatureError,
                                            build_approval_request_message, parse_button_click, sign,
                                            verify_signature)
from connectors.slack.simulator import ChatWebhookSimulator, validate_blocks
from tests.streams.console.desk_factory import make_request

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def click_body(action_id: str = APPROVE_ACTION, value: str = "req-1|abc", user: str = "U0ALICE") -> bytes:
    payload = {"type": "block_actions", "user": {"id": user, "username": "alice", "team_id": "T0SIM0001"},
               "team": {"id": "T0SIM0001", "domain": "sim"}, "api_app_id": "A0SIM",
               "response_url": "https://hooks.slack.com/actions/T0SIM0001/1/x", "trigger_id": "1.2.3",
               "actions": [{"type": "button", "action_id": action_id, "block_id": "prismaflow_approval",
                            "value": value, "action_ts": "1765098000.000100"}]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_the_signature_is_slacks_v0_hmac_over_timestamp_and_raw_body() -> None:
    body = click_body()
    signature = sign(SECRET, "1765098000", body)
    assert signature.startswith("v0=") and len(signature) == 67
    verify_signature(SECRET, timestamp="1765098000", signature=signature, body=body, now_s=1765098000 + 299)


@pytest.mark.parametrize(("timestamp", "signature", "now"), [
    ("1765098000", "v0=" + "0" * 64, 1765098000),  # wrong signature
    ("1765098000", None, 1765098000),  # missing header
    ("1765098000", "good", 1765098000 + 301),  # replayed after five minutes
    ("1765098000", "good", 1765098000 - 301),  # from the future
    ("not-a-time", "good", 1765098000),
])
def test_a_signature_that_does_not_verify_is_refused(timestamp: str, signature: str | None, now: int) -> None:
    body = click_body()
    if signature == "good":
        signature = sign(SECRET, timestamp, body)
    with pytest.raises(SlackSignatureError):
        verify_signature(SECRET, timestamp=timestamp, signature=signature, body=body, now_s=now)


def test_a_changed_body_or_another_secret_does_not_verify() -> None:
    body = click_body()
    signature = sign(SECRET, "1765098000", body)
    with pytest.raises(SlackSignatureError):
        verify_signature(SECRET, timestamp="1765098000", signature=signature, body=click_body(REJECT_ACTION),
                         now_s=1765098000)
    with pytest.raises(SlackSignatureError):
        verify_signature("another-secret", timestamp="1765098000", signature=signature, body=body, now_s=1765098000)


def test_a_click_names_the_user_the_vote_the_request_and_the_plan() -> None:
    click = parse_button_click(click_body(REJECT_ACTION, "req-9|d1g35t"))
    assert (click.user_id, click.team_id, click.approve, click.request_id, click.plan_digest) == (
        "U0ALICE", "T0SIM0001", False, "req-9", "d1g35t")


@pytest.mark.parametrize("body", [
    b"payload=not-json", b"nothing=here",
    urlencode({"payload": json.dumps({"type": "view_submission"})}).encode(),
    click_body(action_id="prismaflow_open_console"), click_body(value="no-separator"),
])
def test_anything_but_an_approval_click_is_refused(body: bytes) -> None:
    with pytest.raises(SlackRequestError):
        parse_button_click(body)


async def test_the_request_message_passes_slacks_block_kit_rules_and_carries_buttons_and_link() -> None:
    request = make_request(summary="Block <!channel> access & *more*")
    message = build_approval_request_message(request, "https://console.example/r/req-1?sig=abc")
    assert validate_blocks(message["blocks"]) is None
    actions = message["blocks"][-1]["elements"]
    assert [a["action_id"] for a in actions] == [APPROVE_ACTION, REJECT_ACTION, "prismaflow_open_console"]
    assert actions[0]["value"] == f"req-1|{request.plan_digest}"
    assert actions[2]["url"] == "https://console.example/r/req-1?sig=abc"
    assert "&lt;!channel&gt; access &amp; *more*" in message["blocks"][1]["text"]["text"]
    sim = ChatWebhookSimulator(rate_per_s=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as http:
        answer = await http.post(f"/services/{sim.slack_path}", json=message)
    assert (answer.status_code, answer.text) == (200, "ok")


def test_the_console_link_must_be_absolute() -> None:
    with pytest.raises(ValueError):
        build_approval_request_message(make_request(), "/r/req-1?sig=abc")
