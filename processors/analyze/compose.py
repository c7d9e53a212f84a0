"""Composing one analysis, pure: what the analysers see, the grounding of a draft, and the record.

The analysis service (:mod:`streams.analysis.service`) calls, per scored alert:

1. :func:`prepare`: the facts, the matched playbook, the retrieved passages, the redacted and fenced
   prompt, our priority justification and approval path (:class:`PreparedAlert`);
2. a draft from the LLM or from :func:`offline_draft`;
3. :func:`ground_draft`: the draft made visible-only and checked against the facts;
4. :func:`assemble`: the :class:`~processors.records.Analysis` record, redacted.

No clock, no metrics, no I/O: the service passes ``created_at`` and counts what these return.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from processors.analysis_text import offline_label
from processors.analyze.decide import approval_path_for, justification_for, priority_for
from processors.analyze.draft import LlmAnalysisDraft, map_draft_strings
from processors.analyze.facts import AlertFacts, build_facts, fence_json, redacted_data
from processors.analyze.grounding import GroundingReport, ground
from processors.analyze.offline import OfflineAnalyser
from processors.analyze.playbook import Playbook, PlaybookLibrary
from processors.analyze.redact import Redactor
from processors.analyze.registry import PromptTemplate, RenderedPrompt
from processors.analyze.retrieval import KnowledgeBase, Passage
from processors.models import Cloud, ScoredAlert
from processors.records import Analyser, Analysis, AnalysisOutcome, Evidence, RemediationStep
from processors.redaction import redact_model

__all__ = [
    "PreparedAlert",
    "assemble",
    "cache_note",
    "ground_draft",
    "offline_draft",
    "offline_note",
    "prepare",
    "visible",
]

_OFFLINE = OfflineAnalyser()


@dataclass
class PreparedAlert:
    """Everything an analysis of one scored alert rests on, built before any analyser runs."""

    scored: ScoredAlert
    facts: AlertFacts
    playbook: Playbook | None
    passages: list[Passage]
    redactor: Redactor
    rendered: RenderedPrompt
    approval: str
    justification: str


def visible(text: str) -> str:
    """``text`` without control, format (zero-width, bidi, tag), private-use or surrogate characters."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs"))


def prepare(
    scored: ScoredAlert,
    prompt: PromptTemplate,
    playbooks: PlaybookLibrary,
    knowledge: KnowledgeBase,
    *,
    retrieval_k: int,
    retrieval_min_score: float,
) -> PreparedAlert:
    """The facts, playbook, passages and rendered (redacted, fenced) prompt of ``scored``."""
    priority = priority_for(scored)
    facts = build_facts(scored, priority)
    alert = scored.alert
    playbook = playbooks.match(alert)
    passages: list[Passage] = []
    if retrieval_k:
        query = " ".join([alert.policy_name, alert.policy_type, alert.resource.resource_type,
                          playbook.title if playbook else "", alert.description[:300]])
        passages = [s.passage for s in knowledge.search(query, k=retrieval_k, min_score=retrieval_min_score)]
    for ref in playbook.references if playbook else []:
        passage = knowledge.get(ref)
        if passage is not None and passage not in passages:
            passages.append(passage)
    subs = (alert.resource.account_id,) if alert.resource.cloud is Cloud.AZURE else ()
    redactor = Redactor(known_subscriptions=subs)
    rendered = prompt.render(
        alert_data=fence_json(redacted_data(facts, redactor)),
        passages=fence_json([{"id": p.id, "title": p.title, "heading": p.heading,
                              "text": redactor.redact(p.text)} for p in passages]),
        priority=priority.value, tier=scored.tier.value, score=str(scored.score),
    )
    approval = approval_path_for(alert.enrichment.environment, playbook)
    return PreparedAlert(scored, facts, playbook, passages, redactor, rendered, approval,
                         justification_for(scored, priority))


def ground_draft(draft: LlmAnalysisDraft, prep: PreparedAlert) -> GroundingReport:
    """``draft`` checked against the alert's facts and the passages it was shown (see grounding)."""
    # What an analysis says is what a reader sees: no zero-width, bidi or tag characters from
    # alert text (they hide instructions from people and from the checks alike).
    draft = map_draft_strings(draft, visible)
    ids = {p.id for p in prep.passages}
    if prep.playbook is not None:
        ids.add(f"playbook:{prep.playbook.id}")
    return ground(draft, prep.facts, passage_ids=ids, justification=prep.justification)


def offline_draft(prep: PreparedAlert) -> LlmAnalysisDraft:
    """The deterministic draft of the offline playbook analyser."""
    return _OFFLINE.draft(prep.facts, prep.playbook, prep.passages)


def offline_note(reason: str) -> Evidence:
    """The evidence entry that labels an offline analysis with its reason."""
    return Evidence(claim=f"Written by the offline playbook analyser ({reason})", source="analyser", reference=reason)


def cache_note(key: str) -> Evidence:
    """The evidence entry of an analysis reused from an alike finding."""
    return Evidence(claim="Reused the grounded analysis of an alike finding (same policy and configuration"
                    " shape), re-grounded with this alert's identifiers", source="cache", reference=key[:16])


def assemble(
    prep: PreparedAlert,
    report: GroundingReport,
    analyser: Analyser,
    *,
    prompt: PromptTemplate,
    model: str,
    created_at: datetime,
    extra: list[Evidence] | None = None,
    offline_reason: str = "",
) -> Analysis:
    """The :class:`Analysis` record of a grounded draft, redacted (no secret survives into it).

    The priority and approval path are ours, whichever analyser wrote the text. An offline analysis
    is labelled (summary prefix, ``offline:<playbook>`` prompt id) and hashes its own inputs.
    """
    draft, scored = report.draft, prep.scored
    summary = draft.summary or "No grounded summary could be written for this finding; see the evidence notes."
    if analyser is Analyser.OFFLINE:
        summary = f"{offline_label(offline_reason)} {summary}"
        pb = prep.playbook
        prompt_id, prompt_version = (f"offline:{pb.id}", str(pb.version)) if pb else ("offline", "0")
        canonical = json.dumps({"facts": prep.facts.data, "playbook": prompt_id, "version": prompt_version,
                                "passages": [p.id for p in prep.passages]}, sort_keys=True, ensure_ascii=False)
        input_hash = hashlib.sha256(canonical.encode()).hexdigest()
    else:
        prompt_id, prompt_version, input_hash = prompt.id, prompt.version, prep.rendered.input_hash
    evidence = [Evidence(claim=e.claim, source=e.source, reference=e.reference) for e in draft.evidence]
    analysis = Analysis(
        alert_id=scored.alert.alert_id,
        incident_id=scored.incident_id,
        asset_id=scored.alert.resource.asset_id,
        summary=summary,
        business_impact=draft.business_impact,
        root_cause=draft.root_cause,
        priority=prep.facts.priority,
        priority_justification=draft.priority_justification or prep.justification,
        recommended_actions=list(draft.recommended_actions),
        remediation_steps=[RemediationStep(order=i, description=s.description, command=s.command,
                                           iac_snippet=s.iac_snippet)
                           for i, s in enumerate(draft.remediation_steps, start=1)],
        approval_path=prep.approval,
        confidence=report.confidence,
        evidence=evidence + report.notes + (extra or []),
        outcome=AnalysisOutcome.ANALYSED if report.core_grounded else AnalysisOutcome.INSUFFICIENT_EVIDENCE,
        analyser=analyser,
        model=model,
        prompt_id=prompt_id,
        prompt_version=prompt_version,
        input_hash=input_hash,
        created_at=created_at,
    )
    # Every text field leaves for tickets, chat and the SIEM: no secret from the alert (an
    # offline template quotes its description, a model may echo one) survives into it.
    return redact_model(analysis)
