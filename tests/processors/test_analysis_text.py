"""How an analysis reads to a person: no machine label, no priority said twice, who wrote it in words."""

from __future__ import annotations

from processors.analysis_text import (
    analyser_note,
    display_justification,
    display_summary,
    offline_label,
    offline_reason,
)
from processors.records import Analyser, Priority
from tests.factories import make_analysis

OFFLINE = dict(analyser=Analyser.OFFLINE, model="", prompt_id="offline:public-storage", prompt_version="1")


def test_the_offline_label_is_kept_in_the_record_and_dropped_from_the_display() -> None:
    analysis = make_analysis(summary=f"{offline_label('not_configured')} The bucket is public.", **OFFLINE)

    assert analysis.summary.startswith("[Offline analysis: not_configured]")
    assert offline_reason(analysis) == "not_configured"
    assert display_summary(analysis) == "The bucket is public."


def test_an_llm_summary_is_shown_as_it_is() -> None:
    analysis = make_analysis(summary="The bucket is public.")
    assert display_summary(analysis) == "The bucket is public." and offline_reason(analysis) == ""


def test_the_priority_is_not_said_twice() -> None:
    ours = make_analysis(priority=Priority.P2, priority_justification="P2: risk tier high, score 74/100.")
    models = make_analysis(priority=Priority.P1, priority_justification="P1 from risk tier critical (score 91)")
    other = make_analysis(priority=Priority.P2, priority_justification="P1 would be too much: no exposure.")

    assert display_justification(ours) == "risk tier high, score 74/100."
    assert display_justification(models) == "from risk tier critical (score 91)"
    assert display_justification(other) == other.priority_justification


def test_who_wrote_it_is_said_in_words() -> None:
    offline = make_analysis(summary=f"{offline_label('budget_exhausted')} x", **OFFLINE)

    assert analyser_note(offline) == (
        "No LLM wrote this analysis: the offline playbook analyser did, because the LLM token budget is spent.")
    assert analyser_note(make_analysis()) == ("Written by the LLM gpt-4o-mini-2024-07-18 (prompt triage v3), "
                                              "confidence 0.86.")
