"""ADF descriptions: valid structure, every section, untrusted text kept as text, size limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.jira.adf.documents import iac_language, text_comment, ticket_description
from connectors.jira.adf.nodes import JIRA_TEXT_LIMIT, document_size
from connectors.jira.simulator import adf_problems
from connectors.jira.wiki import escape_wiki, to_wiki
from tests.factories import (
    make_alert,
    make_analysis,
    make_evidence,
    make_remediation_step,
    make_resource_ref,
    make_scored_alert,
)

CONSOLE = "https://app.prismacloud.io"
HOSTILE = (
    'pwn [click here|https://evil.example/x] *bold* {code}rm -rf /{code} '
    '<a href="https://evil.example">x</a> {"type":"text","marks":[{"type":"link"}]} '
    "\u202eevil\u200b \x00\x07 https://evil.example/auto\nh1. Fake heading\n\n  "
)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.get("content", []):
            yield from walk(child)


def texts(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in walk(document) if n.get("type") == "text"]


def test_full_description_is_valid_adf_with_every_section() -> None:
    document = ticket_description(make_scored_alert(), make_analysis(), console_url=CONSOLE,
                                  fingerprint="fp123")
    assert document["type"] == "doc" and document["version"] == 1
    assert adf_problems(document) == []
    headings = [n["content"][0]["text"] for n in walk(document) if n["type"] == "heading"]
    assert headings == ["Risk", "Analysis", "Remediation", "Evidence", "Resource", "Links"]
    kinds = {n["type"] for n in walk(document)}
    assert {"table", "tableRow", "tableHeader", "tableCell", "orderedList", "bulletList",
            "listItem", "codeBlock", "paragraph"} <= kinds
    code = [(n["attrs"]["language"], n["content"][0]["text"]) for n in walk(document)
            if n["type"] == "codeBlock"]
    assert [lang for lang, _ in code] == ["bash", "hcl", "bash"]
    assert code[0][1].startswith("aws ec2 modify-instance-metadata-options")
    assert 'http_tokens = "required"' in code[1][1]
    plain = " ".join(t["text"] for t in texts(document))
    for expected in ("87/100 (critical)", "Launch template predates", "Stolen role credentials",
                     "IMDSv1 is enabled", "internet_exposed", "+25.0", "fp123", "CIS v3.0.0"):
        assert expected in plain
    assert all(t["text"] for t in texts(document)), "ADF forbids empty text nodes"


def test_links_point_only_at_the_prisma_console() -> None:
    document = ticket_description(make_scored_alert(), make_analysis(), console_url=CONSOLE)
    hrefs = [m["attrs"]["href"] for t in texts(document) for m in t.get("marks", [])
             if m["type"] == "link"]
    assert hrefs[0] == f"{CONSOLE}/alerts/overview?alertId=P-4711"
    assert f"{CONSOLE}/alerts/overview?alertId=P-4712" in hrefs
    assert all(h.startswith(CONSOLE + "/alerts/overview?alertId=") for h in hrefs)


def test_without_analysis_the_alert_recommendation_is_the_remediation() -> None:
    document = ticket_description(make_scored_alert(), None, console_url=CONSOLE)
    assert adf_problems(document) == []
    plain = " ".join(t["text"] for t in texts(document))
    assert "Require IMDSv2: aws ec2" in plain and "Analysis" not in plain


def test_untrusted_text_stays_plain_text() -> None:
    alert = make_alert(
        policy_name=HOSTILE, description=HOSTILE, recommendation=HOSTILE,
        resource=make_resource_ref(name=HOSTILE),
    )
    analysis = make_analysis(
        summary=HOSTILE, root_cause=HOSTILE, business_impact=HOSTILE,
        recommended_actions=[HOSTILE, "   "], priority_justification=HOSTILE,
        remediation_steps=[make_remediation_step(description=HOSTILE, command=HOSTILE,
                                                 iac_snippet=HOSTILE)],
        evidence=[make_evidence(claim=HOSTILE, reference=HOSTILE)],
    )
    scored = make_scored_alert(alert=alert, incident_members=["P-1", HOSTILE])
    document = ticket_description(scored, analysis, console_url=CONSOLE)
    assert adf_problems(document) == []
    for node in texts(document):
        assert "\u202e" not in node["text"] and "\x00" not in node["text"]
        assert "\u200b" not in node["text"]
        for mark in node.get("marks", []):
            assert mark["type"] in ("strong", "link")
            if mark["type"] == "link":
                assert mark["attrs"]["href"].startswith(CONSOLE + "/alerts/overview?alertId=")
            else:
                assert HOSTILE.strip()[:10] not in node["text"], "our labels only are bold"
    # the hostile alert id in the incident is URL-encoded into our link, not a link of its own
    hrefs = [m["attrs"]["href"] for t in texts(document) for m in t.get("marks", [])
             if m["type"] == "link"]
    assert not any("evil.example" in h.split("alertId=")[0] for h in hrefs)
    assert not any(" " in h or "|" in h for h in hrefs)


def test_long_fields_are_capped_and_the_document_fits_jira() -> None:
    huge = "A" * 100_000
    steps = [make_remediation_step(order=i, description=huge, command=huge, iac_snippet=huge)
             for i in range(1, 30)]
    analysis = make_analysis(summary=huge, root_cause=huge, remediation_steps=steps,
                             recommended_actions=[huge] * 50)
    document = ticket_description(make_scored_alert(), analysis, console_url=CONSOLE)
    assert document_size(document) <= JIRA_TEXT_LIMIT
    assert adf_problems(document) == []
    first = document["content"][0]
    assert any(m["type"] == "link" for t in texts(first) for m in t.get("marks", []))
    assert "shortened" in json.dumps(document["content"][-1])


def test_a_list_too_long_for_the_limit_keeps_its_leading_items() -> None:
    analysis = make_analysis(recommended_actions=[f"action {i} " + "B" * 900 for i in range(40)])
    document = ticket_description(make_scored_alert(), analysis, console_url=CONSOLE)
    assert document_size(document) <= JIRA_TEXT_LIMIT and adf_problems(document) == []
    lists = [n for n in walk(document) if n["type"] == "bulletList"]
    assert 1 <= len(lists[0]["content"]) < 40
    assert lists[0]["content"][0]["content"][0]["content"][0]["text"].startswith("action 0 ")


def test_a_smaller_limit_is_honoured() -> None:
    document = ticket_description(make_scored_alert(), make_analysis(), console_url=CONSOLE,
                                  limit=2_000)
    assert document_size(document) <= 2_000 and adf_problems(document) == []


@pytest.mark.parametrize(("snippet", "language"), [
    ('resource "aws_instance" "x" {\n}', "hcl"),
    ('{"Resources": {}}', "json"),
    ("AWSTemplateFormatVersion: '2010-09-09'\nResources: {}", "yaml"),
])
def test_iac_language(snippet: str, language: str) -> None:
    assert iac_language(snippet) == language


def test_text_comment_is_valid_and_refuses_empty() -> None:
    document = text_comment(["Alert P-4711 recurred", HOSTILE], title="Recurrence")
    assert adf_problems(document) == []
    assert document["content"][0]["content"][0]["marks"] == [{"type": "strong"}]
    with pytest.raises(ValueError):
        text_comment(["  "])


# -- wiki markup (Data Center) ---------------------------------------------------------------------


def test_wiki_rendering_has_every_section() -> None:
    wiki = to_wiki(ticket_description(make_scored_alert(), make_analysis(), console_url=CONSOLE))
    assert wiki.startswith("Prisma Cloud alert [P\\-4711|https://app.prismacloud.io/alerts/")
    for expected in ("h3. Risk", "||Factor||Points||Why||", "{code:bash}", "{code:hcl}",
                     "# Require IMDSv2 on the instance", "* *Asset:*", "h3. Links"):
        assert expected in wiki


def test_wiki_escapes_untrusted_markup() -> None:
    assert escape_wiki("[x|https://evil]") == "\\[x\\|https://evil\\]"
    assert escape_wiki("h1. title") == "\\h1. title"
    assert escape_wiki("*b* {code} !img.png!") == "\\*b\\* \\{code\\} \\!img.png\\!"
    alert = make_alert(policy_name=HOSTILE)
    wiki = to_wiki(ticket_description(make_scored_alert(alert=alert), make_analysis(
        remediation_steps=[make_remediation_step(command="echo {code}done{code}")])))
    assert "[click here|https://evil.example/x]" not in wiki
    assert "\\[click here\\|https://evil.example/x\\]" in wiki
    assert "echo { code}done{ code}" in wiki


def test_wiki_is_cut_to_the_limit() -> None:
    analysis = make_analysis(recommended_actions=["B" * 900] * 40)
    wiki = to_wiki(ticket_description(make_scored_alert(), analysis, limit=10**6), limit=3_000)
    assert len(wiki) <= 3_000 and wiki.endswith("see the Prisma Cloud alert._")
