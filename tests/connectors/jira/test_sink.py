"""The Jira tracker's own text: analysis comments read as prose on Cloud and Data Center.

Regressions (issue 11): comments read "Priority P1: P1: …" and "[Offline analysis: not_configured]",
and on Data Center every comment was refused because it was sent as ADF.
"""

from __future__ import annotations

import re

import pytest

from processors.models import RiskTier
from tests import outputs_harness as h
from tests.factories import make_scored_alert


@pytest.mark.parametrize("tracker", ["jira-cloud", "jira-datacenter"])
async def test_analysis_comments_say_the_priority_once_and_who_wrote_it_in_words(tracker: h.Tracker) -> None:
    scored = [make_scored_alert(tier=RiskTier.CRITICAL, score=91, incident_id=None, incident_members=[])]
    analyses = (await h.analyse(scored, llm=False)).analyses
    assert analyses[0].summary.startswith("[Offline analysis: not_configured]"), "the record keeps its label"

    result = await h.ticket(scored, analyses, tracker)

    assert result.failures == 0
    comments = result.tickets[0]["comments"]
    assert len(comments) == 4  # analysis, update, resolution, reopen
    if tracker == "jira-datacenter":
        assert all(isinstance(c, str) for c in comments), "Data Center takes wiki markup"
    analysis_comment = h.dump(comments[0])
    assert "[Offline analysis" not in analysis_comment and "not_configured" not in analysis_comment
    assert "No LLM wrote this analysis: the offline playbook analyser did, because no LLM is configured" in analysis_comment
    assert not re.search(r"P1\W+P1", analysis_comment), analysis_comment
    assert "Priority P1: risk tier critical" in analysis_comment


async def test_the_description_quotes_the_alert_as_prisma_cloud_s_words() -> None:
    scored = [make_scored_alert(tier=RiskTier.CRITICAL, score=91, incident_id=None, incident_members=[])]

    result = await h.ticket(scored, [], "jira-cloud")

    document = result.tickets[0]["fields"]["description"]
    paragraphs = ["".join(n.get("text", "") for n in block.get("content", []))
                  for block in document["content"] if block["type"] == "paragraph"]
    assert paragraphs[1] == f"Prisma Cloud description: {scored[0].alert.description}"
