"""The ServiceNow tracker's own text: work notes read as prose, with no machine labels.

Regression (issue 11): the analysis work note read "Analysis (offline): [Offline analysis:
not_configured] …" with an empty "Root cause:" line.
"""

from __future__ import annotations

import re

from processors.models import RiskTier
from tests import outputs_harness as h
from tests.factories import make_scored_alert


async def test_the_analysis_work_note_reads_as_prose() -> None:
    scored = [make_scored_alert(tier=RiskTier.HIGH, score=74, incident_id=None, incident_members=[])]
    analyses = (await h.analyse(scored, llm=False)).analyses

    result = await h.ticket(scored, analyses, "servicenow")

    assert result.failures == 0
    notes = [n["value"] for n in result.tickets[0]["journal"] if n["element"] == "work_notes"]
    note = next(n for n in notes if n.startswith("Analysis: "))
    assert "[Offline analysis" not in note and "not_configured" not in note
    assert note.splitlines()[-1] == (
        "No LLM wrote this analysis: the offline playbook analyser did, because no LLM is configured.")
    assert not re.search(r"P2\W+P2", note) and "Priority P2: risk tier high" in note
    assert all(line.split(":", 1)[-1].strip() for line in note.splitlines()), "no empty labelled line"
