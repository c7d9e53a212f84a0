"""Atlassian Document Format (ADF) node builders: text cleaning, blocks, and fitting a document into
Jira's size limit. Pure functions, no I/O; see :mod:`connectors.jira.adf` for the rules on
untrusted text."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any


__all__ = [
    "Node",
    "bullet_list",
    "clean_text",
    "code_block",
    "doc",
    "document_size",
    "fit_document",
    "heading",
    "inline",
    "link",
    "list_item",
    "ordered_list",
    "paragraph",
    "strong",
    "table",
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
