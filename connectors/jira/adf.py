"""Atlassian Document Format (ADF) builders for Prismaflow's Jira tickets and comments.

Pure functions, no I/O. :func:`ticket_description` turns a :class:`ScoredAlert` (and the
:class:`Analysis` of it, when there is one) into an ADF ``doc`` (version 1) for Jira Cloud;
:func:`connectors.jira.wiki.to_wiki` renders the same document as wiki markup for Data Center.

Everything that comes from an alert or an analysis is untrusted (a resource name, a tag or an LLM
answer can carry text crafted to look like markup). Such text only ever becomes plain ``text``
nodes without marks, or the content of a ``codeBlock``: links and emphasis exist only where these
builders put them, with URLs built from settings. Control and format characters (bidi overrides,
zero-width) are removed, every field is capped, and the whole document is cut to Jira's 32,767
character description limit, dropping whole trailing sections and saying so.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from processors.analysis_text import analyser_note, display_justification, display_summary
from processors.models import ScoredAlert
from processors.records import Analysis, RemediationStep
from processors.redaction import redact_text

__all__ = [
    "Node",
    "alert_url",
    "bullet_list",
    "clean_text",
    "code_block",
    "doc",
    "document_size",
    "fit_document",
    "heading",
    "iac_language",
    "inline",
    "link",
    "list_item",
    "ordered_list",
    "paragraph",
    "strong",
    "table",
    "text_comment",
    "ticket_description",
]

Node = dict[str, Any]

#: Caps per kind of untrusted field (characters, after cleaning).
PROSE_CHARS = 4_000
ITEM_CHARS = 1_000
CODE_CHARS = 6_000
CELL_CHARS = 300
#: Jira's limit on a description (and comment) field.
JIRA_TEXT_LIMIT = 32_767

_ELLIPSIS = "…"
_TRUNCATED_NOTE = "Description shortened to fit Jira's size limit; see the Prisma Cloud alert."


def clean_text(value: str, limit: int, *, keep_newlines: bool = True) -> str:
    """``value`` without control/format characters (tabs and, optionally, newlines kept), capped.

    Bidi overrides and zero-width characters are dropped so a title cannot disguise what it says.
    Text longer than ``limit`` ends in an ellipsis.
    """
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    kept = []
    for ch in value:
        if ch == "\n" and keep_newlines:
            kept.append(ch)
        elif ch in "\t\n":
            kept.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            kept.append(ch)
    out = "".join(kept)
    if len(out) > limit:
        out = out[: max(0, limit - 1)].rstrip() + _ELLIPSIS
    return out


# -- node builders -------------------------------------------------------------------------------


def doc(blocks: Iterable[Node]) -> Node:
    """The root node: ``{"type":"doc","version":1,"content":[...]}``."""
    return {"type": "doc", "version": 1, "content": list(blocks)}


def inline(value: str, limit: int = PROSE_CHARS) -> list[Node]:
    """Untrusted text as inline nodes: plain text, lines joined by ``hardBreak``, no marks."""
    out: list[Node] = []
    for line in clean_text(value, limit).split("\n"):
        if not line.strip():
            continue
        if out:
            out.append({"type": "hardBreak"})
        out.append({"type": "text", "text": line})
    return out


def strong(value: str) -> Node:
    """Our own bold label (never untrusted text)."""
    return {"type": "text", "text": value, "marks": [{"type": "strong"}]}


def link(value: str, href: str) -> Node:
    """A text node linked to ``href``; only for URLs this package builds from settings."""
    label = clean_text(value, ITEM_CHARS, keep_newlines=False) or href
    return {"type": "text", "text": label, "marks": [{"type": "link", "attrs": {"href": href}}]}


def paragraph(*parts: Node | Sequence[Node] | str) -> Node:
    """A paragraph of inline nodes; ``str`` parts are untrusted text (see :func:`inline`)."""
    content: list[Node] = []
    for part in parts:
        if isinstance(part, str):
            content.extend(inline(part))
        elif isinstance(part, dict):
            content.append(part)
        else:
            content.extend(part)
    return {"type": "paragraph", "content": content}


def heading(value: str, level: int = 3) -> Node:
    """A heading (levels 1-6) with our own title."""
    if not 1 <= level <= 6:
        raise ValueError("heading level must be 1..6")
    return {"type": "heading", "attrs": {"level": level}, "content": inline(value, ITEM_CHARS)}


def list_item(*blocks: Node) -> Node:
    """A list item holding block nodes (usually one paragraph)."""
    return {"type": "listItem", "content": list(blocks)}


def bullet_list(items: Iterable[Node]) -> Node:
    """A bullet list of :func:`list_item` nodes."""
    return {"type": "bulletList", "content": list(items)}


def ordered_list(items: Iterable[Node]) -> Node:
    """A numbered list of :func:`list_item` nodes, starting at 1."""
    return {"type": "orderedList", "attrs": {"order": 1}, "content": list(items)}


def code_block(code: str, language: str) -> Node:
    """A code block; its single text child has no marks (ADF forbids them there)."""
    body = clean_text(code, CODE_CHARS)
    node: Node = {"type": "codeBlock", "attrs": {"language": language}}
    node["content"] = [{"type": "text", "text": body}] if body.strip() else []
    return node


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Node:
    """A table with one header row; every cell is untrusted text in a paragraph."""

    def cell(kind: str, value: str) -> Node:
        return {"type": kind, "attrs": {}, "content": [paragraph(inline(value, CELL_CHARS))]}

    head = {"type": "tableRow", "content": [cell("tableHeader", h) for h in header]}
    body = [{"type": "tableRow", "content": [cell("tableCell", v) for v in row]} for row in rows]
    return {
        "type": "table",
        "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
        "content": [head, *body],
    }


def document_size(document: Node) -> int:
    """Characters of the compact JSON form, the size Jira holds against its field limit."""
    return len(json.dumps(document, ensure_ascii=False, separators=(",", ":")))


def fit_document(blocks: Sequence[Node], limit: int = JIRA_TEXT_LIMIT) -> Node:
    """A doc of as many leading ``blocks`` as fit ``limit``, plus a note when some were dropped.

    The first block (summary and alert link) is always kept, shortened if it must be.
    """
    note = paragraph(strong("Note: "), _TRUNCATED_NOTE)
    whole = doc(blocks)
    if document_size(whole) <= limit:
        return whole
    budget = limit - document_size(note) - 1
    kept: list[Node] = []
    for block in blocks:
        if document_size(doc([*kept, block])) > budget:
            partial = _list_prefix(block, kept, budget)
            if partial is not None:
                kept.append(partial)
            break
        kept.append(block)
    if not kept:  # even the first block is too big: keep its opening text only
        first = paragraph(inline(_plain(blocks[0]), max(100, budget // 4)))
        kept = [first]
    return doc([*kept, note])


def _list_prefix(block: Node, kept: list[Node], budget: int) -> Node | None:
    """The leading items of a list ``block`` that still fit, or None (not a list, none fit)."""
    if block.get("type") not in ("bulletList", "orderedList", "table"):
        return None
    items: list[Node] = []
    floor = 2 if block["type"] == "table" else 1  # a table keeps its header row plus one
    for item in block["content"]:
        if document_size(doc([*kept, {**block, "content": [*items, item]}])) > budget:
            break
        items.append(item)
    return {**block, "content": items} if len(items) >= floor else None


def _plain(node: Node) -> str:
    if node.get("type") == "text":
        return str(node.get("text", ""))
    return " ".join(_plain(child) for child in node.get("content", []))


# -- Prismaflow documents ------------------------------------------------------------------------

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
    if analysis is None or not analysis.evidence:
        return []
    items = []
    for ev in analysis.evidence:
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
