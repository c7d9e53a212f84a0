"""Grounding and safety checks on a draft, before it becomes an :class:`~processors.records.Analysis`.

Every draft, from the model or from the offline playbooks, passes :func:`ground`:

* identifiers (ARNs, AWS resource ids, 12-digit accounts, GUIDs, GCP ``projects/...``, CVE ids,
  unknown placeholders, ``s3://``/``gs://`` targets) must appear in the alert's own facts; a
  sentence, action, step or evidence item naming one that does not is removed;
* commands must pass the remediation allowlist (:func:`~processors.analyze.vocabulary.command_verdict`)
  and IaC snippets the resource-type allowlist; a step with a rejected command is removed, a rejected
  snippet is cut from its step;
* dismissal or suppression wording and echoed injection phrases are stripped (no dismissal exists in
  the vocabulary);
* a priority justification that argues for another priority is replaced by our own;
* evidence must point at a real field path of the facts or at a passage that was retrieved.

Each removal lowers the confidence (×0.85) and is recorded as ``Evidence(source="grounding")``. When
the core does not survive (no summary sentence, no action or step, or no evidence left) the outcome
is ``insufficient_evidence``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from processors.analyze.draft import DraftEvidence, DraftStep, LlmAnalysisDraft
from processors.analyze.facts import AlertFacts, resolve_path
from processors.analyze.vocabulary import (
    DISMISSAL,
    INJECTION,
    command_verdict,
    iac_verdict,
    visible_for_matching,
)
from processors.records import Evidence, Priority

__all__ = ["GroundingReport", "ground", "identifiers"]

_ID_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\barn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:[^\s\"'`,;)]+"),
    re.compile(r"\b(?:i|sg|vol|vpc|subnet|eni|ami|snap|rtb|igw|nat|acl|eipalloc|lt|db|r)-[0-9a-f]{8,17}\b"),
    re.compile(r"(?<![0-9A-Za-z_])\d{12}(?![0-9A-Za-z_])"),
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    re.compile(r"\bprojects/[a-z][a-z0-9-]{4,28}[a-z0-9]\b"),
    re.compile(r"\bCVE-\d{4}-\d{4,7}\b", re.IGNORECASE),
    re.compile(r"\b(?:ACCOUNT|SUBSCRIPTION|EMAIL)_\d+\b"),
    re.compile(r"\b(?:s3|gs)://[A-Za-z0-9._-]+"),
)
_GENERIC_ARN = re.compile(r"^arn:aws:iam::aws:policy/")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_BACKTICK = re.compile(r"`([^`]+)`")
_OTHER_PRIORITY = re.compile(r"\bP([1-4])\b|\b(low|medium|high|critical)[- ]priority\b", re.IGNORECASE)
_WORD_PRIORITY = {"low": {Priority.P3, Priority.P4}, "medium": {Priority.P2, Priority.P3},
                  "high": {Priority.P1, Priority.P2}, "critical": {Priority.P1}}
_CONFIDENCE_DECAY = 0.85
_UNGROUNDED_CAP = 0.3


def identifiers(text: str) -> set[str]:
    """Resource, account and CVE identifiers named in ``text`` (generic AWS-managed policy ARNs excluded)."""
    found: set[str] = set()
    for pattern in _ID_PATTERNS:
        for match in pattern.findall(text):
            token = match.rstrip(".")
            if not _GENERIC_ARN.match(token):
                found.add(token.split("://", 1)[-1] if "://" in token else token)
    return found


@dataclass(frozen=True)
class GroundingReport:
    """The cleaned draft, what was removed (as evidence notes), and whether its core stands."""

    draft: LlmAnalysisDraft
    notes: list[Evidence] = field(default_factory=list)
    removed: int = 0
    core_grounded: bool = True
    confidence: float = 0.0


class _Checker:
    def __init__(self, facts: AlertFacts, passage_ids: Collection[str]) -> None:
        self.facts = facts
        self.corpus = facts.corpus.lower()
        self.passage_ids = set(passage_ids)
        self.notes: list[Evidence] = []

    def note(self, claim: str, reference: str) -> None:
        self.notes.append(Evidence(claim=claim, source="grounding", reference=reference))

    def ungrounded(self, text: str) -> set[str]:
        return {i for i in identifiers(text) if i.lower() not in self.corpus}

    def text_problem(self, text: str) -> str:
        """Why ``text`` may not stay, or ''."""
        text = visible_for_matching(text)
        missing = self.ungrounded(text)
        if missing:
            return f"names identifiers not in the alert: {', '.join(sorted(missing))}"
        if DISMISSAL.search(text):
            return "recommends dismissal or suppression, which is not an allowed action"
        if INJECTION.search(text):
            return "echoes an instruction found inside the alert data"
        for command in _BACKTICK.findall(text):
            verdict = command_verdict(command, self.facts.cloud)
            if not verdict.allowed:
                return f"embeds a command that is not allowed ({verdict.reason})"
        return ""

    def prose(self, text: str, where: str) -> str:
        kept: list[str] = []
        for sentence in _SENTENCE.split(text.strip()) if text.strip() else []:
            problem = self.text_problem(sentence)
            if problem:
                self.note(f"Removed a sentence that {problem}", where)
            else:
                kept.append(sentence)
        return " ".join(kept)

    def step(self, step: DraftStep, where: str) -> DraftStep | None:
        # An allowlisted verb can still carry injected words as its arguments (a resource name
        # written into --bucket): the command is checked like prose too.
        problem = self.text_problem(step.description) or self.text_problem(step.command)
        if not problem and step.command:
            verdict = command_verdict(step.command, self.facts.cloud)
            missing = self.ungrounded(step.command)
            if not verdict.allowed:
                problem = f"has a command that is not allowed ({verdict.reason})"
            elif missing:
                problem = f"has a command naming identifiers not in the alert: {', '.join(sorted(missing))}"
        if problem:
            self.note(f"Removed a remediation step that {problem}", where)
            return None
        if step.iac_snippet:
            verdict = iac_verdict(step.iac_snippet)
            missing = self.ungrounded(step.iac_snippet)
            if not verdict.allowed or missing:
                reason = verdict.reason or f"names identifiers not in the alert: {', '.join(sorted(missing))}"
                self.note(f"Removed an IaC snippet: {reason}", f"{where}.iac_snippet")
                return step.model_copy(update={"iac_snippet": ""})
        return step

    def evidence(self, item: DraftEvidence, where: str) -> bool:
        problem = self.text_problem(item.claim)
        if not problem:
            if item.source == "playbook":
                if item.reference not in self.passage_ids:
                    problem = f"cites passage {item.reference!r}, which was not retrieved"
            else:
                ref = item.reference
                if item.source == "resource_config" and not ref.startswith("resource_config"):
                    ref = f"resource_config.{ref}"
                if not ref or not resolve_path(self.facts.data, ref):
                    problem = f"points at {item.reference!r}, which is not a field of the alert data"
        if problem:
            self.note(f"Removed evidence that {problem}", where)
            return False
        return True


def _priority_conflict(text: str, priority: Priority) -> bool:
    text = visible_for_matching(text)
    for match in _OTHER_PRIORITY.finditer(text):
        if match.group(1) and f"P{match.group(1)}" != priority.value:
            return True
        if match.group(2) and priority not in _WORD_PRIORITY[match.group(2).lower()]:
            return True
    return bool(DISMISSAL.search(text) or INJECTION.search(text))


def ground(
    draft: LlmAnalysisDraft,
    facts: AlertFacts,
    *,
    passage_ids: Collection[str],
    justification: str,
) -> GroundingReport:
    """Check ``draft`` against ``facts`` and the retrieved ``passage_ids`` (see the module docstring).

    ``justification`` is our own priority justification, used when the draft's argues for another
    priority or echoes an instruction.
    """
    checker = _Checker(facts, passage_ids)
    summary = checker.prose(draft.summary, "summary")
    impact = checker.prose(draft.business_impact, "business_impact")
    root_cause = checker.prose(draft.root_cause, "root_cause")
    why = draft.priority_justification
    if not why.strip() or _priority_conflict(why, facts.priority) or checker.ungrounded(why):
        if why.strip():
            checker.note("Replaced a priority justification that contradicted the scoring policy", "priority_justification")
        why = justification
    actions = []
    for i, action in enumerate(draft.recommended_actions):
        problem = checker.text_problem(action)
        if problem:
            checker.note(f"Removed a recommended action that {problem}", f"recommended_actions[{i}]")
        else:
            actions.append(action)
    steps = [s for i, step in enumerate(draft.remediation_steps)
             if (s := checker.step(step, f"remediation_steps[{i}]")) is not None]
    evidence = [e for i, e in enumerate(draft.evidence) if checker.evidence(e, f"evidence[{i}]")]
    removed = len(checker.notes)
    core = bool(summary) and bool(actions or steps) and bool(evidence) and draft.sufficient_evidence
    confidence = draft.confidence * (_CONFIDENCE_DECAY**removed)
    if not core:
        confidence = min(confidence, _UNGROUNDED_CAP)
    cleaned = LlmAnalysisDraft(
        summary=summary,
        business_impact=impact,
        root_cause=root_cause,
        priority_justification=why,
        recommended_actions=actions,
        remediation_steps=steps,
        confidence=round(confidence, 4),
        evidence=evidence,
        sufficient_evidence=core,
    )
    return GroundingReport(cleaned, checker.notes, removed, core, round(confidence, 4))
