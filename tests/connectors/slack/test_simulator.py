"""The chat webhook simulator's own contract: admin API, Slack validation, Teams envelope checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.slack.simulator import ChatWebhookSimulator, validate_blocks


@pytest.fixture
async def sim_http() -> AsyncIterator[tuple[ChatWebhookSimulator, httpx.AsyncClient]]:
    sim = ChatWebhookSimulator(rate_per_s=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as http:
        yield sim, http


async def test_text_only_message_is_ok(sim_http: tuple[ChatWebhookSimulator, httpx.AsyncClient]) -> None:
    sim, http = sim_http
    response = await http.post(f"/services/{sim.slack_path}", json={"text": "hello"})
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["content-type"].startswith("text/plain")


async def test_non_object_json_is_invalid_payload(sim_http: tuple[ChatWebhookSimulator, httpx.AsyncClient]) -> None:
    sim, http = sim_http
    response = await http.post(f"/services/{sim.slack_path}", json=["text"])
    assert (response.status_code, response.text) == (400, "invalid_payload")


async def test_faults_are_served_then_cleared(sim_http: tuple[ChatWebhookSimulator, httpx.AsyncClient]) -> None:
    sim, http = sim_http
    assert (await http.post("/_sim/faults", json={"target": "slack", "status": 429, "retry_after_s": 3})).status_code == 200
    first = await http.post(f"/services/{sim.slack_path}", json={"text": "x"})
    assert (first.status_code, first.headers["retry-after"]) == (429, "3")
    assert (await http.post(f"/services/{sim.slack_path}", json={"text": "x"})).status_code == 200
    assert (await http.post("/_sim/faults", json={"target": "irc", "status": 500})).status_code == 400
    assert (await http.post("/_sim/faults", json={"nope": 1})).status_code == 400
    assert (await http.post("/_sim/reset")).status_code == 204
    assert (await http.get("/_sim/messages")).json() == []
    assert (await http.get("/_sim/stats")).json() == {"calls": {}, "statuses": {}}


async def test_teams_bad_json_is_400_and_action_submit_fails_rendering(
    sim_http: tuple[ChatWebhookSimulator, httpx.AsyncClient],
) -> None:
    sim, http = sim_http
    bad = await http.post(sim.teams_path, content=b"{not json")
    assert bad.status_code == 400
    card = {"type": "AdaptiveCard", "version": "1.4", "body": [], "actions": [{"type": "Action.Submit"}]}
    body = {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}
    accepted = await http.post(sim.teams_path, json=body)
    assert (accepted.status_code, accepted.content) == (202, b"")
    assert "Action.Submit" in sim.render_failures[0]["reason"]
    missing_sig = await http.post(sim.teams_path.split("&sig=")[0], json=body)
    assert missing_sig.status_code == 401


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        ("nope", "array"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "plain_text"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "section text"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}], "field text"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}], "context"),
        ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "url": "https://x"}]}], "button text"),
        ([{"type": "divider", "block_id": "b" * 256}], "block_id"),
        ([{"type": "marquee"}], "unknown type"),
    ],
)
def test_block_limits(blocks: object, problem: str) -> None:
    found = validate_blocks(blocks)
    assert found is not None and problem in found
