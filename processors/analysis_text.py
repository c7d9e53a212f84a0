"""How an :class:`~processors.records.Analysis` reads to a person: the wording tickets and chat share.

The record keeps what machines need: an offline analysis's summary starts with the label
``[Offline analysis: <reason>]`` (the analysis stage's contract, counted and tested), and the
priority justification our code writes starts with the priority (``"P2: risk tier high, …"``).
Shown as they are, a ticket reads "[Offline analysis: not_configured] The bucket…" and "Priority
P2: P2: …". The composers of ticket, work-note and chat text use these functions instead:
:func:`display_summary` drops the label, :func:`display_justification` the repeated priority, and
:func:`analyser_note` says in words who wrote the analysis and why offline.
"""

from __future__ import annotations

import re

from processors.records import Analyser, Analysis, Evidence

__all__ = [
    "OFFLINE_REASONS",
    "analyser_note",
    "display_justification",
    "display_summary",
    "offline_label",
    "offline_reason",
    "shown_evidence",
]

#: Why the offline analyser wrote an analysis, in words (the keys are the analyzer's reason codes).
OFFLINE_REASONS: dict[str, str] = {
    "not_configured": "no LLM is configured",
    "below_threshold": "the alert is below the analysis threshold",
    "below_llm_threshold": "the alert is below the tier the LLM is used for",
    "budget_exhausted": "the LLM token budget is spent",
    "rate_limited": "the LLM call rate limit was reached",
    "llm_rate_limited": "the LLM endpoint kept rate-limiting",
    "llm_timeout": "the LLM did not answer in time",
    "llm_unavailable": "the LLM endpoint was unavailable",
    "llm_error": "the LLM endpoint returned an error",
    "refused": "the LLM declined to answer",
    "invalid_output": "the LLM's answer was not valid",
}

_LABEL = re.compile(r"^\[Offline analysis: (?P<reason>[a-z_]+)\]\s*")
_LEADING_PRIORITY = re.compile(r"^\s*(?P<p>P[1-4])\b\s*[:\-–—,]?\s*")


def offline_label(reason: str) -> str:
    """The label an offline analysis's summary starts with: ``[Offline analysis: <reason>]``."""
    return f"[Offline analysis: {reason}]"


def offline_reason(analysis: Analysis) -> str:
    """The reason code of an offline analysis ('' for an LLM analysis or an unlabelled summary)."""
    match = _LABEL.match(analysis.summary)
    return match.group("reason") if match and analysis.analyser is Analyser.OFFLINE else ""


def display_summary(analysis: Analysis) -> str:
    """The summary without the machine label (who wrote it is said by :func:`analyser_note`)."""
    return _LABEL.sub("", analysis.summary, count=1)


def display_justification(analysis: Analysis) -> str:
    """The priority justification without a leading repeat of the analysis's own priority."""
    match = _LEADING_PRIORITY.match(analysis.priority_justification)
    if match and match.group("p") == analysis.priority.value:
        return analysis.priority_justification[match.end():]
    return analysis.priority_justification


def analyser_note(analysis: Analysis) -> str:
    """One sentence on who wrote the analysis: plainly that no LLM did (the offline analyser, and why),
    or the model and prompt. A ticket or message says it once, with this sentence: the record's own
    ``Evidence(source="analyser")`` item says the same for machines and is left out of what people
    read (:func:`shown_evidence`)."""
    if analysis.analyser is Analyser.OFFLINE:
        reason = offline_reason(analysis)
        why = OFFLINE_REASONS.get(reason, reason.replace("_", " "))
        return f"No LLM wrote this analysis: the offline playbook analyser did{f', because {why}' if why else ''}."
    prompt = " ".join(p for p in (analysis.prompt_id, f"v{analysis.prompt_version}" if analysis.prompt_version else "") if p)
    return (f"Written by the LLM {analysis.model or '(model not reported)'}"
            f"{f' (prompt {prompt})' if prompt else ''}, confidence {analysis.confidence:.2f}.")


def shown_evidence(analysis: Analysis) -> list[Evidence]:
    """The evidence people read: all but the analyser's own note (:func:`analyser_note` says it)."""
    return [item for item in analysis.evidence if item.source != "analyser"]
