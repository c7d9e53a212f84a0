"""Render Prismaflow's ADF documents as Jira wiki markup, for Data Center (``/rest/api/2``).

Data Center takes descriptions and comment bodies as wiki-markup strings. Rather than a second set
of builders, the ADF document from :mod:`connectors.jira.adf` is rendered here, so both flavours
carry the same content. Only the nodes those builders produce are handled.

Untrusted text is escaped: every wiki-markup character is preceded by a backslash, and a line that
would start a heading or quote (``h1.``, ``bq.``) is escaped too, so a resource name cannot become a
link, a macro or emphasis. Code goes into ``{code:<lang>}`` with any ``{code}`` inside it broken up.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.jira.adf.nodes import JIRA_TEXT_LIMIT

__all__ = ["escape_wiki", "to_wiki"]

_SPECIAL = re.compile(r"([\\*_?+^~|\[\]{}!#\-])")
_LINE_START = re.compile(r"^(\s*)(h[1-6]\.|bq\.)", re.IGNORECASE)
_TRUNCATED = "_Description shortened to fit Jira's size limit; see the Prisma Cloud alert._"


def escape_wiki(value: str) -> str:
    """Plain text as wiki markup that renders as the same text and nothing else."""
    escaped = _SPECIAL.sub(r"\\\1", value)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def _inline(nodes: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for node in nodes:
        kind = node.get("type")
        if kind == "hardBreak":
            out.append("\\\\ ")
            continue
        if kind != "text":
            continue
        text = escape_wiki(str(node.get("text", "")))
        for mark in node.get("marks", []):
            if mark.get("type") == "strong":
                text = f"*{text.strip()}*" + (" " if text.endswith(" ") else "")
            elif mark.get("type") == "link":
                href = str(mark.get("attrs", {}).get("href", "")).replace("]", "%5D").replace("|", "%7C")
                text = f"[{text}|{href}]"
        out.append(text)
    return "".join(out)


def _block(node: dict[str, Any], depth: int = 0, marker: str = "") -> list[str]:
    kind = node.get("type")
    content: list[dict[str, Any]] = node.get("content", [])
    if kind == "paragraph":
        return [_inline(content)]
    if kind == "heading":
        return [f"h{node.get('attrs', {}).get('level', 3)}. {_inline(content)}"]
    if kind in ("bulletList", "orderedList"):
        sign = marker + ("*" if kind == "bulletList" else "#")
        lines: list[str] = []
        for item in content:
            lines.extend(_block(item, depth + 1, sign))
        return lines
    if kind == "listItem":
        lines = []
        for index, child in enumerate(content):
            if child.get("type") in ("bulletList", "orderedList"):
                lines.extend(_block(child, depth, marker))
            elif index == 0 and child.get("type") == "paragraph":
                lines.append(f"{marker} {_inline(child.get('content', []))}")
            else:
                lines.extend(_block(child, depth, marker))
        return lines
    if kind == "codeBlock":
        lang = re.sub(r"[^a-z0-9]", "", str(node.get("attrs", {}).get("language", "")).lower())
        code = "".join(str(c.get("text", "")) for c in content)
        code = re.sub(r"\{(code|noformat)", r"{ \1", code, flags=re.IGNORECASE)
        return [f"{{code:{lang or 'none'}}}", code, "{code}"]
    if kind == "table":
        lines = []
        for row in content:
            cells = row.get("content", [])
            sep = "||" if cells and cells[0].get("type") == "tableHeader" else "|"
            texts = [" ".join(_block(p)[0] for p in cell.get("content", [])) or " " for cell in cells]
            lines.append(sep + sep.join(texts) + sep)
        return lines
    return []


def to_wiki(document: dict[str, Any], limit: int = JIRA_TEXT_LIMIT) -> str:
    """The wiki-markup text of an ADF ``document``, cut at whole blocks to fit ``limit``."""
    parts: list[str] = []
    size = 0
    budget = limit - len(_TRUNCATED) - 2
    blocks = document.get("content", [])
    for block in blocks:
        rendered = "\n".join(_block(block))
        if size + len(rendered) + 2 > budget:
            if not parts:
                parts.append(rendered[: max(0, budget)])
            parts.append(_TRUNCATED)
            break
        parts.append(rendered)
        size += len(rendered) + 2
    return "\n\n".join(parts)
