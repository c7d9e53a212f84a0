"""Slack Block Kit and Teams Adaptive Card builders: content, escaping of untrusted text, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.slack.blocks import (
    LIMITS,
    build_slack_message,
    escape_mrkdwn,
    truncate_mrkdwn,
)
from connectors.slack.simulator import validate_blocks
from connectors.slack.teams import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    MAX_MESSAGE_BYTES,
    build_teams_payload,
)
from processors.records import Analyser
from tests.factories import (
    make_alert,
    make_analysis,
    make_resource_ref,
    make_scored_alert,
)

TICKET = "https://acme.atlassian.net/browse/SEC-1042"
APPROVAL = "https://prismaflow.example/approvals/c4d3b2a1?sig=abc"
CONSOLE = "https://app.prismacloud.io/alerts/P-4711"


def _blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == kind]


def _all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_slack_message_layout() -> None:
    scored = make_scored_alert()
    message = build_slack_message(
        scored, analysis=make_analysis(), ticket_url=TICKET, ticket_key="SEC-1042",
        approval_url=APPROVAL, console_url=CONSOLE,
    )
    assert validate_blocks(message["blocks"]) is None
    assert [b["type"] for b in message["blocks"]] == [
        "header", "section", "section", "section", "context", "actions"
    ]
    header = message["blocks"][0]["text"]
    assert header["type"] == "plain_text"
    assert header["text"] == f"CRITICAL 87: {scored.alert.policy_name}"
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in message["blocks"][2]["fields"]}
    assert fields["*Risk*"] == "87/100 (critical)"
    assert fields["*Module*"].startswith("CSPM")
    assert "*Asset*" in fields and "*Account*" in fields and fields["*Priority*"] == "P1"
    assert "Recommended actions" in message["blocks"][3]["text"]["text"]
    context = [e["text"] for e in message["blocks"][4]["elements"]]
    assert context[0] == f"Alert {scored.alert.alert_id}"
    assert "gpt-4o-mini" in context[-1] and "triage" in context[-1]
    buttons = message["blocks"][5]["elements"]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [
        ("Open ticket SEC-1042", TICKET), ("Review fix", APPROVAL), ("Open in Prisma Cloud", CONSOLE)
    ]
    assert all(b["type"] == "button" and "value" not in b for b in buttons)  # URL buttons only
    assert message["text"].startswith("[CRITICAL 87]")


def test_offline_analysis_is_labelled_as_such() -> None:
    message = build_slack_message(make_scored_alert(), analysis=make_analysis(analyser=Analyser.OFFLINE, model=""))
    assert "offline playbook analyser" in message["blocks"][-1]["elements"][-1]["text"]


def test_without_links_there_is_no_actions_block() -> None:
    message = build_slack_message(make_scored_alert())
    assert _blocks_of(message, "actions") == []
    assert validate_blocks(message["blocks"]) is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative", "ftp://x", "https://a b", "https://" + "x" * 3000])
def test_bad_link_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        build_slack_message(make_scored_alert(), ticket_url=url)


def test_untrusted_text_cannot_mention_or_link() -> None:
    evil = "<!channel> <https://evil.example|click> & <@U123>"
    scored = make_scored_alert(
        alert=make_alert(policy_name=evil, description=evil, resource=make_resource_ref(name=evil))
    )
    message = build_slack_message(scored, analysis=make_analysis(summary=evil, recommended_actions=[evil]))
    mrkdwn = [
        b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b
    ] + [f["text"] for b in _blocks_of(message, "section") for f in b.get("fields", [])] + [message["text"]]
    for text in mrkdwn:
        assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U123&gt;" in mrkdwn[0]
    # plain_text is not parsed by Slack, so the header keeps the characters as they are.
    assert message["blocks"][0]["text"]["text"].startswith("CRITICAL 87: <!channel>")


def test_escape_and_truncate_never_split_an_entity() -> None:
    assert escape_mrkdwn("a<b>&c") == "a&lt;b&gt;&amp;c"
    text = truncate_mrkdwn("&" * 100, 12)
    assert text == "&amp;&amp;…" and len(text) <= 12
    assert truncate_mrkdwn("short", 10) == "short"


def test_huge_inputs_stay_within_block_kit_limits() -> None:
    big = "x&<" * 20_000
    scored = make_scored_alert(
        alert=make_alert(policy_name=big, description=big, resource=make_resource_ref(name=big, account_name=big))
    )
    analysis = make_analysis(summary=big, recommended_actions=[big] * 50, model=big)
    message = build_slack_message(scored, analysis=analysis, ticket_url=TICKET, ticket_key="K" * 200)
    assert validate_blocks(message["blocks"]) is None
    block_text = sum(len(json.dumps(b)) for b in message["blocks"])
    assert block_text < 12_000  # under Slack's undocumented ~13k msg_blocks_too_long
    assert len(message["text"]) <= 300
    assert all(len(b["text"]["text"]) <= LIMITS["button_text"] for b in _blocks_of(message, "actions")[0]["elements"])


# --- Teams ---------------------------------------------------------------------------------------


def test_teams_envelope_and_card() -> None:
    payload = build_teams_payload(
        make_scored_alert(), analysis=make_analysis(), ticket_url=TICKET, ticket_key="SEC-1042",
        approval_url=APPROVAL,
    )
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD_CONTENT_TYPE
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["body"][0]["type"] == "TextBlock" and card["body"][0]["weight"] == "Bolder"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Risk"] == "87/100 (critical)" and facts["Ticket"] == "SEC-1042"
    assert [(a["type"], a["url"]) for a in card["actions"]] == [
        ("Action.OpenUrl", TICKET), ("Action.OpenUrl", APPROVAL)
    ]


def test_teams_text_cannot_form_links() -> None:
    evil = "see [this](https://evil.example)"
    payload = build_teams_payload(make_scored_alert(), analysis=make_analysis(summary=evil))
    assert "](" not in _all_text(payload)


def test_teams_payload_fits_28_kb_with_huge_non_ascii_input() -> None:
    big = "\u6f22" * 50_000  # 3 bytes each in UTF-8
    scored = make_scored_alert(alert=make_alert(policy_name=big, description=big))
    payload = build_teams_payload(
        scored, analysis=make_analysis(summary=big, recommended_actions=[big] * 10),
        ticket_url="https://t.example/" + "a" * 2900, approval_url="https://a.example/" + "b" * 2900,
        console_url="https://c.example/" + "c" * 2900,
    )
    assert len(json.dumps(payload, ensure_ascii=False).encode()) <= MAX_MESSAGE_BYTES
