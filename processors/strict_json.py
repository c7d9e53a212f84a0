"""Parsing an untrusted JSON body within limits, so that a hostile one is refused, never a crash.

The standard library's parser alone answers some bodies with exceptions other than a decode error
(a 5,000-digit integer: ValueError from the int conversion limit; a body nested 1,000 levels deep:
RecursionError), accepts literals that are not JSON (``NaN``, ``Infinity``), turns ``1e999`` into
infinity, and decodes the bytes of an encoded surrogate (``ED A0 80``) into a lone surrogate.
:func:`parse_json` puts one rule in front of it; every refusal is a :class:`JsonRejectedError` with
a reason fit for a 400 answer:

- the body is decoded as UTF-8 (RFC 8259 §8.1); bytes that are not valid UTF-8 become U+FFFD and are
  counted (they are then free text, kept, or part of an id, refused: see :mod:`processors.sanitise`);
- nesting deeper than ``max_depth``, a string literal longer than ``max_string_chars`` characters as
  written, a number literal longer than ``max_number_chars``, an array of more than
  ``max_array_items`` items or an object of more than ``max_object_members`` members is refused;
- ``NaN``, ``Infinity``, ``-Infinity`` and numbers out of the float range are refused;
- anything else the parser refuses (syntax) is refused with its message.

Depth and string lengths are checked by a linear scan *before* the parser runs, so no recursion
limit is ever reached. Pure: bytes in, a document out.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from processors.errors import InvalidRecordError

__all__ = ["JsonLimits", "JsonRejectedError", "ParsedJson", "parse_json"]

# A string literal (possessive, so a long one is matched in one pass) or a bracket.
_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)
_UTF8_REPLACEMENT = "\ufffd".encode()


@dataclass(frozen=True)
class JsonLimits:
    """How large a JSON body may be in each dimension (the webhook receiver's settings fill it)."""

    max_depth: int = 64
    max_string_chars: int = 1024 * 1024
    max_number_chars: int = 100
    max_array_items: int = 100_000
    max_object_members: int = 10_000


class JsonRejectedError(InvalidRecordError):
    """The body is not JSON this receiver accepts; ``reason`` says why (safe to return to the client)."""


@dataclass(frozen=True)
class ParsedJson:
    """A parsed document and how many undecodable bytes were replaced by U+FFFD on the way."""

    document: Any
    replaced_bytes: int


def parse_json(data: bytes, limits: JsonLimits) -> ParsedJson:
    """Parse ``data`` as one JSON document within ``limits``; raise JsonRejectedError otherwise."""
    try:
        text = data.decode("utf-8")
        replaced = 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
        replaced = text.count("\ufffd") - data.count(_UTF8_REPLACEMENT)
    _scan(text, limits)
    try:
        document = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=lambda literal: _number(literal, int, limits),
            parse_float=lambda literal: _number(literal, float, limits),
        )
    except JsonRejectedError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise JsonRejectedError(f"body is not valid JSON: {exc}") from exc
    _check_sizes(document, limits)
    return ParsedJson(document, replaced)


def _scan(text: str, limits: JsonLimits) -> None:
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            if len(token) - 2 > limits.max_string_chars:
                raise JsonRejectedError(
                    f"a string at character {match.start()} is longer than {limits.max_string_chars} characters")
        elif token in "[{":
            depth += 1
            if depth > limits.max_depth:
                raise JsonRejectedError(f"nesting deeper than {limits.max_depth} levels at character {match.start()}")
        else:
            depth -= 1


def _refuse_constant(literal: str) -> Any:
    raise JsonRejectedError(f"{literal} is not a JSON number (RFC 8259 §6)")


def _number(literal: str, kind: type[int] | type[float], limits: JsonLimits) -> int | float:
    if len(literal) > limits.max_number_chars:
        raise JsonRejectedError(f"a number of {len(literal)} characters, more than {limits.max_number_chars}")
    value = kind(literal)
    if isinstance(value, float) and not math.isfinite(value):
        raise JsonRejectedError(f"the number {literal} is out of range")
    return value


def _check_sizes(document: Any, limits: JsonLimits) -> None:
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            if len(value) > limits.max_array_items:
                raise JsonRejectedError(f"an array of {len(value)} items, more than {limits.max_array_items}")
            pending.extend(item for item in value if isinstance(item, (list, dict)))
        elif isinstance(value, dict):
            if len(value) > limits.max_object_members:
                raise JsonRejectedError(
                    f"an object of {len(value)} members, more than {limits.max_object_members}")
            pending.extend(item for item in value.values() if isinstance(item, (list, dict)))
