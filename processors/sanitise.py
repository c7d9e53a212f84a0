"""The one text rule at the edge: what a source may put into a :class:`RawAlert`, and what it may not.

Every source (the webhook receiver, the CSPM and Compute pollers, any source added later) builds its
raw alerts through :func:`admit_raw_alert`, so one rule decides for all of them. The rule, per field:

- **Identifiers and keys** (the source alert id, the Kafka key derived from the payload): *rejected*
  with a reason (:class:`~processors.errors.InvalidRecordError`, the record is dead-lettered) when
  they are empty, longer than :data:`MAX_IDENTIFIER_CHARS`, carry white space at either end, or hold
  a character an operator cannot see or that changes what is seen: control characters (NUL, CR, LF,
  TAB, ...), format characters (bidi overrides such as U+202E, zero-width U+200B-U+200D, U+2060,
  the byte-order mark U+FEFF), line and paragraph separators (U+2028, U+2029), white space other
  than the plain space, lone surrogates, private-use and unassigned code points, and the
  replacement character U+FFFD (the trace of bytes that were not valid UTF-8). An id that is not
  itself is worse than no id: it would split or merge alerts, and a CRLF in a key reaches HTTP
  headers and log lines downstream.
- **Free text in the payload** (every string value and member name of the alert's JSON): lone
  UTF-16 surrogates (``"\\udcff"`` as a JSON escape, the only invalid Unicode a Python string can
  carry) are *replaced* with U+FFFD, and the number of replaced characters is reported
  (:attr:`AdmittedAlert.replaced_characters`; the sources count it in a metric and put it in the
  record header :data:`REPLACED_CHARACTERS_HEADER`).
  Everything else that is valid Unicode is kept as sent: sinks escape for their own formats.
- **Numbers**: ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (RFC 8259 §6); a payload holding
  one is *rejected* (the webhook receiver refuses the body with 400 before this; a poller's record
  is dead-lettered).
- **Shape**: a payload nested deeper than :data:`MAX_PAYLOAD_DEPTH` levels is *rejected*.

Undecodable bytes never get this far as bytes: the webhook receiver decodes its body as UTF-8 with
replacement (see :mod:`processors.strict_json`), so they arrive as U+FFFD: kept in free text,
rejected in identifiers. After :func:`admit_raw_alert` no string of the record fails to encode as
UTF-8, so the serializer can never refuse it for its text.

Pure: no I/O, no clock (the caller passes ``received_at`` and ``ingest_id``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import AlertSource, RawAlert

__all__ = [
    "MAX_IDENTIFIER_CHARS",
    "MAX_PAYLOAD_DEPTH",
    "STAGE",
    "REPLACED_CHARACTERS_HEADER",
    "AdmittedAlert",
    "identifier_problem",
    "check_identifier",
    "clean_text",
    "clean_payload",
    "admit_raw_alert",
]

STAGE = "sanitise"
MAX_IDENTIFIER_CHARS = 512
"""Longest id or key accepted; Prisma ids are short, Compute ids carry a host or image name (≤ 255)."""
MAX_PAYLOAD_DEPTH = 64
"""Deepest nesting of objects and arrays accepted in a payload (Prisma's deepest are ~15)."""

REPLACED_CHARACTERS_HEADER = "prismaflow.replaced-characters"
"""Kafka header a source puts on a raw alert whose payload had characters replaced (value: how many)."""

_SURROGATES = re.compile("[\ud800-\udfff]")
# Categories an identifier may not hold: control, format (bidi, zero-width, BOM), surrogate,
# private use, unassigned; line and paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class AdmittedAlert:
    """A raw alert that passed the rule: the record, its Kafka key, and how much text was replaced."""

    raw: RawAlert
    key: str
    replaced_characters: int


def identifier_problem(value: object, what: str = "id") -> str | None:
    """Why ``value`` is not acceptable as an identifier or key, or None when it is.

    The reason names the first offending character by code point (never the character itself, so
    the reason is safe to log and to encode).
    """
    if not isinstance(value, str):
        return f"{what} must be a string, got {type(value).__name__}"
    if not value:
        return f"{what} is empty"
    if len(value) > MAX_IDENTIFIER_CHARS:
        return f"{what} is {len(value)} characters long, more than {MAX_IDENTIFIER_CHARS}"
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category in _FORBIDDEN_CATEGORIES or (category == "Zs" and char != " ") or char == _REPLACEMENT:
            name = unicodedata.name(char, category)
            return f"{what} holds U+{ord(char):04X} ({name}) at position {position}"
    if value[0] == " " or value[-1] == " ":
        return f"{what} has white space at its start or end"
    return None


def check_identifier(value: object, what: str = "id") -> str:
    """Return ``value`` if it is an acceptable identifier, else raise InvalidRecordError with the reason."""
    problem = identifier_problem(value, what)
    if problem is not None:
        raise InvalidRecordError(problem, stage=STAGE)
    assert isinstance(value, str)
    return value


def clean_text(value: str) -> tuple[str, int]:
    """``value`` with every lone surrogate replaced by U+FFFD, and how many were replaced."""
    if not _SURROGATES.search(value):
        return value, 0
    return _SURROGATES.subn(_REPLACEMENT, value)


def clean_payload(document: Any) -> tuple[Any, int]:
    """A copy of a parsed JSON document whose strings are all valid Unicode, and the replacement count.

    Raises InvalidRecordError for a non-finite number, a value that is not a JSON type, or nesting
    deeper than :data:`MAX_PAYLOAD_DEPTH`.
    """
    replaced = 0

    def walk(value: Any, depth: int, path: str) -> Any:
        nonlocal replaced
        if isinstance(value, str):
            text, count = clean_text(value)
            replaced += count
            return text
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidRecordError(f"payload holds {value!r} at {path}, which is not a JSON number",
                                         stage=STAGE)
            return value
        if depth >= MAX_PAYLOAD_DEPTH:
            raise InvalidRecordError(f"payload nests deeper than {MAX_PAYLOAD_DEPTH} levels at {path}", stage=STAGE)
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidRecordError(f"payload has a non-string member name at {path}", stage=STAGE)
                name, count = clean_text(key)
                replaced += count
                out[name] = walk(item, depth + 1, f"{path}.{name[:40]!r}")
            return out
        if isinstance(value, (list, tuple)):
            return [walk(item, depth + 1, f"{path}[{index}]") for index, item in enumerate(value)]
        raise InvalidRecordError(f"payload holds a {type(value).__name__} at {path}, not a JSON value", stage=STAGE)

    return walk(document, 0, "$"), replaced


def admit_raw_alert(
    *,
    source: AlertSource,
    alert_id: object,
    payload: Any,
    tenant: str,
    received_at: datetime,
    ingest_id: str,
    key: Callable[[RawAlert], str],
    sort_keys: bool = False,
) -> AdmittedAlert:
    """Build the RawAlert a source writes, applying the rule; raise InvalidRecordError when it is refused.

    ``key`` derives the Kafka key from the built record (the sources pass
    :func:`processors.pipeline.raw_alert_key`); the key is checked like an id. ``payload_json`` is
    the cleaned payload as compact ASCII JSON (``sort_keys`` as the source always wrote it), and
    ``content_hash`` its SHA-256.
    """
    identifier = check_identifier(alert_id, "alert id")
    cleaned, replaced = clean_payload(payload)
    text = json.dumps(cleaned, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False)
    raw = RawAlert(
        ingest_id=ingest_id, source=source, source_alert_id=identifier, tenant=tenant,
        received_at=received_at, payload_json=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )
    return AdmittedAlert(raw=raw, key=check_identifier(key(raw), "key"), replaced_characters=replaced)
