"""Rules on the text inside a fix: no shell syntax, no credentials, no invisible or odd characters.

Shared by the CLI translation (which refuses such text before it becomes an action) and by
validation (which checks every string a plan carries, wherever it came from). Each function returns
the reasons it finds, empty when the text is acceptable, so that a verdict can list all of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from processors.redaction import contains_secret, is_secret_key

__all__ = [
    "MAX_DOCUMENT_LENGTH",
    "MAX_VALUE_LENGTH",
    "credential_reasons",
    "iter_strings",
    "secret_field_reasons",
    "shell_syntax_reasons",
    "unicode_reasons",
]

MAX_VALUE_LENGTH = 2048
"""Longest string a plan may carry; Prisma ids, ARNs and names fit well below."""

MAX_DOCUMENT_LENGTH = 10_240
"""Longest IAM policy document (``PolicyDocument``) or Terraform snippet a plan may carry: AWS's own
limit for a role's inline policies, so a least-privilege policy of a role that uses many actions fits."""

# Each is a way a shell (or the AWS CLI's own parameter loading) would do more than pass a value.
_SHELL_SYNTAX: tuple[tuple[str, str], ...] = (
    ("\n", "a newline"),
    ("\r", "a carriage return"),
    (";", "';' (command separator)"),
    ("&&", "'&&' (command chaining)"),
    ("||", "'||' (command chaining)"),
    ("|", "'|' (pipe)"),
    ("&", "'&' (background or chaining)"),
    ("$(", "'$(' (command substitution)"),
    ("${", "'${' (variable expansion)"),
    ("`", "a backtick (command substitution)"),
    (">", "'>' (redirection)"),
    ("<", "'<' (redirection)"),
)

_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}(?![A-Z0-9])")
# A secret access key: 40 characters of base64, with upper, lower case and digits (not a hex digest).
_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+=]*[a-z])(?=[A-Za-z0-9/+=]*[A-Z])"
                         r"(?=[A-Za-z0-9/+=]*[0-9])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
_CREDENTIAL_WORDS = re.compile(
    r"(--profile\b|aws_access_key_id|aws_secret_access_key|aws_session_token|secretaccesskey|sessiontoken"
    r"|x-amz-security-token|--password\b|--client-secret\b|--access-token|--secret\b|-----BEGIN [A-Z ]*PRIVATE KEY)",
    re.IGNORECASE,
)


def shell_syntax_reasons(text: str) -> list[str]:
    """Why ``text`` holds shell syntax (separators, pipes, substitution, redirection, newlines)."""
    return [f"shell syntax: {label}" for token, label in _SHELL_SYNTAX if token in text]


def credential_reasons(text: str) -> list[str]:
    """Why ``text`` carries (or asks for) credentials: key ids, secret keys, profiles, tokens, and
    whatever else :func:`processors.redaction.contains_secret` knows as a secret."""
    reasons = []
    if _ACCESS_KEY_ID.search(text):
        reasons.append("credentials: an AWS access key id")
    if _SECRET_KEY.search(text):
        reasons.append("credentials: something shaped like a secret access key")
    match = _CREDENTIAL_WORDS.search(text)
    if match:
        reasons.append(f"credentials: {match.group(1).lower()!r} is not allowed in a fix")
    if not reasons and contains_secret(text):
        # The project's redaction patterns: tokens, private keys, passwords in URLs or assignments.
        reasons.append("credentials: a secret (token, key or password) is in the text")
    return reasons


def secret_field_reasons(value: Any, path: str = "") -> list[str]:
    """Why a JSON value has a field whose name says it holds a secret (``SecretAccessKey``, ``Password``)."""
    reasons: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if is_secret_key(str(key)):
                reasons.append(f"credentials: parameter {where[:80]} holds a secret")
            reasons += secret_field_reasons(item, where)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        for index, item in enumerate(value):
            reasons += secret_field_reasons(item, f"{path}[{index}]")
    return reasons


# Format (zero-width, bidi), control, private-use, unassigned, and line/paragraph separators.
_HIDDEN = frozenset({"Cf", "Cc", "Co", "Cn", "Zl", "Zp"})


def unicode_reasons(text: str, *, limit: int = MAX_VALUE_LENGTH) -> list[str]:
    """Why ``text`` is not plain: invisible or direction-changing characters, controls, non-ASCII,
    or longer than ``limit`` (:data:`MAX_VALUE_LENGTH`; :data:`MAX_DOCUMENT_LENGTH` for documents).

    Resource identifiers in AWS are ASCII, so anything else in an action (a homoglyph bucket name, a
    zero-width space, a right-to-left mark) is either a different resource than it looks like or an
    attempt to hide text from the person approving the plan.
    """
    reasons = []
    if len(text) > limit:
        reasons.append(f"value longer than {limit} characters ({len(text)})")
    hidden = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _HIDDEN and c not in "\n\r\t"})
    if hidden:
        reasons.append(f"invisible or control characters {', '.join(hidden[:5])}")
    foreign = sorted({c for c in text if ord(c) > 0x7E and unicodedata.category(c) not in _HIDDEN})
    if foreign:
        names = ", ".join(f"U+{ord(c):04X}" for c in foreign[:5])
        reasons.append(f"non-ASCII characters {names} (a look-alike of another name?)")
    return reasons


def iter_strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from iter_strings(item)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for item in value:
            yield from iter_strings(item)
