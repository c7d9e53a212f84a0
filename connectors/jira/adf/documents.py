"""Prismaflow's Jira documents in ADF: the ticket description of a scored alert (and its analysis)
and plain comments. Pure functions over the builders of :mod:`connectors.jira.adf.nodes`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from connectors.jira.adf.nodes import (
    CELL_CHARS,
    ITEM_CHARS,
    JIRA_TEXT_LIMIT,
    Node,
    bullet_list,
    clean_text,
    code_block,
    fit_document,
    heading,
    inline,
    link,
    list_item,
    ordered_list,
    paragraph,
    strong,
    table,
)
from processors.analysis_text import analyser_note, display_justification, display_summary, shown_evidence
from processors.models import ScoredAlert
from processors.records import Analysis, RemediationStep
from processors.redaction import redact_text

__all__ = ["alert_url", "iac_language", "text_comment", "ticket_description"]


_HCL = re.compile(r"^\s*(resource|module|data|variable|provider|locals|terraform)\b|\w+\s*\{", re.MULTILINE)


def iac_language(snippet: str) -> str:
    """Code-block language for an IaC snippet: json, yaml (CloudFormation/K8s) or hcl."""
    stripped = snippet.lstrip()
    if stripped.startswith(("{", "[")):
        return "json"
    if re.search(r"^\s*(AWSTemplateFormatVersion|Resources|apiVersion|kind)\s*:", snippet, re.MULTILINE):
        return "yaml"
    return "hcl"


def _step_item(step: RemediationStep) -> Node:
    blocks = [paragraph(step.description or f"Step {step.order}")]
    if step.command.strip():
        blocks.append(code_block(step.command, "bash"))
    if step.iac_snippet.strip():
        blocks.append(code_block(step.iac_snippet, iac_language(step.iac_snippet)))
    return list_item(*blocks)


def _labelled(label: str, value: str) -> Node:
    return paragraph(strong(f"{label}: "), value)


def _summary_blocks(scored: ScoredAlert, analysis: Analysis | None, alert_url: str) -> list[Node]:
    alert = scored.alert
    resource = alert.resource.name or alert.resource.resource_id
    intro = paragraph(
        {"type": "text", "text": "Prisma Cloud alert "},
        link(alert.alert_id, alert_url),
        {"type": "text", "text": " on "},
        inline(resource, CELL_CHARS),
        {"type": "text", "text": ": "},
        inline(alert.policy_name, ITEM_CHARS),
    )
    blocks = [intro]
    summary = display_summary(analysis) if analysis else ""
    if summary.strip():
        blocks.append(paragraph(summary))
    elif alert.description.strip():
        # The alert's own words, labelled as such: Prisma Cloud's text, not Prismaflow's.
        blocks.append(_labelled("Prisma Cloud description", alert.description))
    return blocks


def _risk_blocks(scored: ScoredAlert) -> list[Node]:
    alert = scored.alert
    line = (
        f"Risk score {scored.score}/100 ({scored.tier.value}); severity {alert.severity.value}; "
        f"status {alert.status.value}; module {alert.module.value}."
    )
    blocks = [heading("Risk"), paragraph(line)]
    if scored.factors:
        rows = [
            (f.name, f"{f.contribution:+.1f}", f.reason)
            for f in sorted(scored.factors, key=lambda f: -f.contribution)
        ]
        blocks.append(table(("Factor", "Points", "Why"), rows))
    if scored.suggested_dismissal:
        blocks.append(_labelled("Suggested dismissal", scored.suggestion_reason or "yes"))
    return blocks


def _analysis_blocks(analysis: Analysis) -> list[Node]:
    why = display_justification(analysis).strip()
    blocks = [
        heading("Analysis"),
        paragraph(strong("Priority: "), inline(f"{analysis.priority.value}{f' ({why})' if why else ''}")),
    ]
    if analysis.root_cause.strip():
        blocks.append(_labelled("Root cause", analysis.root_cause))
    if analysis.business_impact.strip():
        blocks.append(_labelled("Business impact", analysis.business_impact))
    if analysis.recommended_actions:
        blocks.append(paragraph(strong("Recommended actions")))
        blocks.append(bullet_list(
            list_item(paragraph(inline(a, ITEM_CHARS))) for a in analysis.recommended_actions
            if a.strip()
        ))
    if analysis.approval_path.strip():
        blocks.append(_labelled("Recommended approval path", analysis.approval_path))
    outcome = "" if analysis.outcome.value == "analysed" else " The evidence was insufficient for a firm conclusion."
    blocks.append(paragraph(inline(analyser_note(analysis) + outcome, ITEM_CHARS)))
    return blocks


def _remediation_blocks(scored: ScoredAlert, analysis: Analysis | None) -> list[Node]:
    steps = sorted(analysis.remediation_steps, key=lambda s: s.order) if analysis else []
    if steps:
        return [heading("Remediation"), ordered_list(_step_item(s) for s in steps)]
    if scored.alert.recommendation.strip():
        return [heading("Remediation"), paragraph(scored.alert.recommendation)]
    return []


def _evidence_blocks(analysis: Analysis | None) -> list[Node]:
    evidence = shown_evidence(analysis) if analysis is not None else []
    if not evidence:
        return []
    items = []
    for ev in evidence:
        where = f" ({ev.source}{': ' + ev.reference if ev.reference else ''})"
        items.append(list_item(paragraph(inline(ev.claim + where, ITEM_CHARS))))
    return [heading("Evidence"), bullet_list(items)]


def _resource_blocks(scored: ScoredAlert) -> list[Node]:
    alert, res = scored.alert, scored.alert.resource
    facts = [
        ("Asset", res.asset_id),
        ("Resource", f"{res.resource_type} {res.resource_id}".strip()),
        ("Cloud", " / ".join(x for x in (res.cloud.value, res.account_name or res.account_id,
                                         res.region) if x)),
        ("Environment", alert.enrichment.environment.value),
        ("Owner", " / ".join(x for x in (alert.enrichment.team, alert.enrichment.owner) if x)),
        ("Compliance", ", ".join(f"{c.standard} {c.requirement}".strip() for c in alert.compliance)),
        ("CVEs", ", ".join(v.cve for v in alert.vulnerabilities)),
    ]
    items = [list_item(_labelled(k, v)) for k, v in facts if v.strip()]
    return [heading("Resource"), bullet_list(items)]


def _link_blocks(scored: ScoredAlert, console_url: str, fingerprint: str | None) -> list[Node]:
    ids = [scored.alert.alert_id, *(m for m in scored.incident_members if m != scored.alert.alert_id)]
    items = [list_item(paragraph(
        {"type": "text", "text": "Prisma Cloud alert "}, link(i, alert_url(console_url, i)))) for i in ids[:50]]
    blocks = [heading("Links"), bullet_list(items)]
    footer = "Managed by Prismaflow: edits to this description are overwritten on the next update."
    if scored.incident_id:
        footer += f" Incident {scored.incident_id}."
    if fingerprint:
        footer += f" Fingerprint {fingerprint}."
    blocks.append(paragraph(inline(footer, ITEM_CHARS)))
    return blocks


def alert_url(console_url: str, alert_id: str) -> str:
    """The Prisma Cloud console link for ``alert_id`` (``<base>/alerts/overview?alertId=<id>``)."""
    return f"{console_url.rstrip('/')}/alerts/overview?alertId={quote(alert_id, safe='')}"


def ticket_description(
    scored: ScoredAlert,
    analysis: Analysis | None = None,
    *,
    console_url: str = "https://app.prismacloud.io",
    fingerprint: str | None = None,
    limit: int = JIRA_TEXT_LIMIT,
) -> Node:
    """The ADF description of a ticket for ``scored`` (and its ``analysis``), within ``limit``.

    Sections, most important first so truncation drops the least useful: summary with the alert
    link, risk score and factors, analysis, remediation steps (CLI as ``bash``, IaC as
    ``hcl``/``json``/``yaml`` code blocks), evidence, resource facts, links.
    """
    blocks = [
        *_summary_blocks(scored, analysis, alert_url(console_url, scored.alert.alert_id)),
        *_risk_blocks(scored),
        *(_analysis_blocks(analysis) if analysis else []),
        *_remediation_blocks(scored, analysis),
        *_evidence_blocks(analysis),
        *_resource_blocks(scored),
        *_link_blocks(scored, console_url, fingerprint),
    ]
    return fit_document(blocks, limit)


def text_comment(lines: Sequence[str], *, title: str | None = None,
                 limit: int = JIRA_TEXT_LIMIT) -> Node:
    """A comment document: an optional bold title, then one paragraph per (untrusted) line.

    The lines are redacted together (:func:`processors.redaction.redact_text`), so a secret split
    over lines (a private key block) goes as a whole.
    """
    blocks: list[Node] = []
    if title:
        blocks.append(paragraph(strong(clean_text(title, ITEM_CHARS, keep_newlines=False))))
    separator = "\n\x1e\n"  # a record separator: no line holds it (clean_text drops it)
    text = redact_text(separator.join(line for line in lines if line.strip()))
    blocks.extend(paragraph(line) for line in text.split(separator) if line.strip())
    if not blocks:
        raise ValueError("a comment needs some text")
    return fit_document(blocks, limit)
