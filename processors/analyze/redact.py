"""Redaction of secrets and account identifiers before text leaves for the model, and restoration after.

A :class:`Redactor` lives for one analysis. :meth:`Redactor.redact` replaces

* secrets: AWS access key ids (``AKIA``/``ASIA``), PEM private keys, JWTs, GitHub/Slack tokens,
  bearer tokens and the value after ``password=``/``token:``/``secret=``/``api_key=`` ... →
  ``SECRET_1``, ``SECRET_2`` ...
* 12-digit AWS account ids → ``ACCOUNT_1`` ...
* Azure subscription GUIDs (after ``/subscriptions/``, or the alert's own account id) → ``SUBSCRIPTION_1`` ...
* e-mail addresses (owners in tags) → ``EMAIL_1`` ...

with stable placeholders (the same value → the same placeholder). :meth:`Redactor.restore` puts the
identifiers back into the model's answer. Secrets are *not* restored: an analysis travels to tickets,
chat and the SIEM, where a secret must never appear, so ``SECRET_n`` comes back as ``[REDACTED]``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

__all__ = ["REDACTED", "Redactor", "is_secret_key"]

REDACTED = "[REDACTED]"

_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
    re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
    re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}\b"),
    re.compile(r"\bxox[abpors]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/-]{16,}=*", re.IGNORECASE),
)
# key=value / key: value where the key says secret; the value is group "v".
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b(?:password|passwd|pwd|passphrase|secret(?:[_-]?access)?[_-]?key|secret|token|api[_-]?key|"
    r"access[_-]?key|credentials?)\b(?:\"|')?\s*[:=]\s*(?:\"|')?(?P<v>[^\s\"',;}{]{6,})"
)
_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "passphrase", "secret", "token", "credential", "credentials",
                           "apikey", "accesskey", "privatekey", "connectionstring"})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
                           ("connection", "string"), ("client", "secret")})


def is_secret_key(key: str) -> bool:
    """True for a key or tag *name* that says its value is a secret (``db_password``, ``apiKey``, ``GITHUB_TOKEN``).

    Whole words only, so ``HttpTokens`` or ``PasswordPolicy``-style settings names do not match.
    """
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower())
    if words and words[-1] == "policy":
        return False
    return any(w in _SECRET_WORDS for w in words) or any(p in _SECRET_PAIRS for p in itertools.pairwise(words))
_ACCOUNT = re.compile(r"(?<![0-9A-Za-z_])\d{12}(?![0-9A-Za-z_])")
_SUBSCRIPTION = re.compile(r"(?i)(?<=/subscriptions/)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PLACEHOLDER = re.compile(r"\b(?:ACCOUNT|SUBSCRIPTION|SECRET|EMAIL)_\d+\b")


class Redactor:
    """Replaces secrets and account identifiers with placeholders, and restores identifiers.

    ``known_subscriptions``: GUIDs to treat as Azure subscription ids wherever they appear (the
    alert's ``resource.account_id`` on Azure).
    """

    def __init__(self, *, known_subscriptions: tuple[str, ...] = ()) -> None:
        self._forward: dict[str, str] = {}
        self._back: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._known_subs = tuple(s.lower() for s in known_subscriptions if re.fullmatch(_GUID, s))

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder → original for identifiers and secrets (for tests; never log it)."""
        return dict(self._back)

    def _placeholder(self, kind: str, value: str) -> str:
        key = f"{kind}:{value.lower() if kind == 'SUBSCRIPTION' else value}"
        if key not in self._forward:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            name = f"{kind}_{self._counts[kind]}"
            self._forward[key] = name
            self._back[name] = value
        return self._forward[key]

    def _sub(self, pattern: re.Pattern[str], kind: str, text: str) -> str:
        return pattern.sub(lambda m: self._placeholder(kind, m.group(0)), text)

    def redact(self, text: str) -> str:
        """``text`` with every secret and account identifier replaced by its placeholder."""
        for pattern in _SECRET_PATTERNS:
            text = self._sub(pattern, "SECRET", text)

        def assignment(match: re.Match[str]) -> str:
            value = match.group("v")
            if _PLACEHOLDER.fullmatch(value):
                return match.group(0)
            start, end = match.span("v")
            offset = match.start(0)
            whole = match.group(0)
            return whole[: start - offset] + self._placeholder("SECRET", value) + whole[end - offset :]

        text = _SECRET_ASSIGNMENT.sub(assignment, text)
        text = self._sub(_SUBSCRIPTION, "SUBSCRIPTION", text)
        for sub in self._known_subs:
            text = re.sub(re.escape(sub), lambda m: self._placeholder("SUBSCRIPTION", m.group(0)), text, flags=re.IGNORECASE)
        text = self._sub(_EMAIL, "EMAIL", text)
        return self._sub(_ACCOUNT, "ACCOUNT", text)

    def redact_tag(self, key: str, value: str) -> str:
        """A tag value, wholly replaced when the tag's *name* says it holds a secret."""
        if is_secret_key(key):
            return self._placeholder("SECRET", value)
        return self.redact(value)

    def restore(self, text: str) -> str:
        """Identifiers put back; secret placeholders become :data:`REDACTED`."""
        restore_one: Callable[[re.Match[str]], str] = lambda m: (
            REDACTED if m.group(0).startswith("SECRET_") else self._back.get(m.group(0), m.group(0))
        )
        return _PLACEHOLDER.sub(restore_one, text)
