"""What the simulated Jira checks in a request body: ADF shape, field sizes, error envelopes.

Written from the ADF JSON schema's rules (sinks-api.md 1.4) independently of the builders in
:mod:`connectors.jira.adf`, so a test that sends their output here checks one against the other.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["TEXT_LIMIT", "adf_problems", "jira_error", "text_too_long"]

TEXT_LIMIT = 32_767

_INLINE = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}
_MARKS = {"strong", "em", "code", "strike", "underline", "link", "textColor", "subsup"}
_BLOCK_CHILDREN: dict[str, set[str] | None] = {
    # node -> allowed child types (None: inline content)
    "doc": {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "table", "rule",
            "blockquote", "panel", "mediaSingle", "expand"},
    "paragraph": None,
    "heading": None,
    "bulletList": {"listItem"},
    "orderedList": {"listItem"},
    "listItem": {"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle"},
    "codeBlock": {"text"},
    "blockquote": {"paragraph", "bulletList", "orderedList", "codeBlock"},
    "panel": {"paragraph", "heading", "bulletList", "orderedList"},
    "table": {"tableRow"},
    "tableRow": {"tableHeader", "tableCell"},
    "tableHeader": {"paragraph", "heading", "bulletList", "orderedList", "codeBlock"},
    "tableCell": {"paragraph", "heading", "bulletList", "orderedList", "codeBlock"},
    "rule": set(),
}
_NON_EMPTY = {"bulletList", "orderedList", "listItem", "table", "tableRow", "tableHeader",
              "tableCell"}


def jira_error(status: int, messages: list[str] | None = None,
               errors: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    """Jira's ``ErrorCollection`` envelope: ``{"errorMessages":[...],"errors":{...}}``."""
    return JSONResponse({"errorMessages": messages or [], "errors": errors or {}},
                        status_code=status, headers=headers)


def text_too_long(value: Any) -> bool:
    """True when a rich-text value exceeds Jira's 32,767-character field limit."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           separators=(",", ":"))
    return len(text) > TEXT_LIMIT


def _inline_problems(node: Any, where: str, in_code: bool) -> list[str]:
    if not isinstance(node, dict):
        return [f"{where}: not an object"]
    kind = node.get("type")
    if kind not in _INLINE:
        return [f"{where}: {kind!r} is not an inline node"]
    if kind != "text":
        return []
    problems = []
    text = node.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}: text must be a non-empty string")
    marks = node.get("marks", [])
    if in_code and marks:
        problems.append(f"{where}: codeBlock text must not carry marks")
    if not isinstance(marks, list):
        return [*problems, f"{where}: marks must be a list"]
    for i, mark in enumerate(marks):
        mtype = mark.get("type") if isinstance(mark, dict) else None
        if mtype not in _MARKS:
            problems.append(f"{where}.marks[{i}]: unknown mark {mtype!r}")
        elif mtype == "link":
            href = (mark.get("attrs") or {}).get("href")
            if not isinstance(href, str) or not href:
                problems.append(f"{where}.marks[{i}]: link needs attrs.href")
    return problems


def _block_problems(node: Any, where: str) -> list[str]:
    if not isinstance(node, dict):
        return [f"{where}: not an object"]
    kind = node.get("type")
    if kind not in _BLOCK_CHILDREN or kind == "doc":
        return [f"{where}: unknown node type {kind!r}"]
    content = node.get("content", [])
    if not isinstance(content, list):
        return [f"{where}: content must be a list"]
    problems: list[str] = []
    if kind == "heading":
        level = (node.get("attrs") or {}).get("level")
        if not isinstance(level, int) or not 1 <= level <= 6:
            problems.append(f"{where}: heading level must be 1..6")
    if kind in _NON_EMPTY and not content:
        problems.append(f"{where}: {kind} needs content")
    allowed = _BLOCK_CHILDREN[kind]
    if allowed is not None and kind != "codeBlock":
        return problems + _children_problems(content, allowed, f"{where}.", f"not allowed in {kind}")
    for i, child in enumerate(content):
        here = f"{where}.content[{i}]"
        problems.extend(_inline_problems(child, here, in_code=kind == "codeBlock"))
        if kind == "codeBlock" and isinstance(child, dict) and child.get("type") != "text":
            problems.append(f"{here}: codeBlock holds text only")
    return problems


def _children_problems(content: list[Any], allowed: set[str], prefix: str, refusal: str) -> list[str]:
    """Problems of the block children ``content`` (at ``<prefix>content[i]``): each must be one of
    ``allowed`` (else ``refusal``) and valid itself."""
    problems: list[str] = []
    for i, child in enumerate(content):
        here = f"{prefix}content[{i}]"
        if not isinstance(child, dict) or child.get("type") not in allowed:
            got = child.get("type") if isinstance(child, dict) else type(child).__name__
            problems.append(f"{here}: {got!r} {refusal}")
        else:
            problems.extend(_block_problems(child, here))
    return problems


def adf_problems(document: Any) -> list[str]:
    """Why ``document`` is not a valid ADF ``doc`` for Jira; empty when it is."""
    if not isinstance(document, dict):
        return ["not an ADF document (expected an object)"]
    problems = []
    if document.get("type") != "doc":
        problems.append("root type must be 'doc'")
    if document.get("version") != 1:
        problems.append("version must be 1")
    content = document.get("content")
    if not isinstance(content, list):
        return [*problems, "content must be a list"]
    return problems + _children_problems(content, _BLOCK_CHILDREN["doc"] or set(), "",
                                         "is not a top-level block")
