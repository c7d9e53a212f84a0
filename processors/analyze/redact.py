"""Redaction of secrets and account identifiers before text leaves for the model, and restoration after.

A :class:`Redactor` lives for one analysis. :meth:`Redactor.redact` replaces

* secrets, as :mod:`processors.redaction` defines them (one pattern set for every output: cloud
  keys, private keys, tokens, passwords in URLs and assignments, values of secret-named tags) →
  ``SECRET_1``, ``SECRET_2`` ...
* 12-digit AWS account ids → ``ACCOUNT_1`` ...
* Azure subscription GUIDs (after ``/subscriptions/``, or the alert's own account id) → ``SUBSCRIPTION_1`` ...
* e-mail addresses (owners in tags) → ``EMAIL_1`` ...

with stable placeholders (the same value → the same placeholder). :meth:`Redactor.restore` puts the
identifiers back into the model's answer. Secrets are *not* restored: an analysis travels to tickets,
chat and the SIEM, where a secret must never appear, so ``SECRET_n`` comes back as ``[REDACTED]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from processors.redaction import REDACTED, is_secret_key, redact_text, redact_value

__all__ = ["REDACTED", "Redactor", "is_secret_key"]

_ACCOUNT = re.compile(r"(?<![0-9A-Za-z_])\d{12}(?![0-9A-Za-z_])")
_SUBSCRIPTION = re.compile(r"(?i)(?<=/subscriptions/)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Not a placeholder's "SECRET_1@host" (what is left of scheme://user:pass@host): that is no address.
_EMAIL = re.compile(r"\b(?!(?:ACCOUNT|SUBSCRIPTION|SECRET|EMAIL)_\d+@)[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# SECRET_n also where a secret was glued to a flag ("-pSECRET_1"), so it never survives restore.
_PLACEHOLDER = re.compile(r"(?:SECRET|(?<![A-Za-z0-9])(?:ACCOUNT|SUBSCRIPTION|EMAIL))_\d+\b")


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

    def _secret(self, kind: str, value: str) -> str:
        return value if _PLACEHOLDER.fullmatch(value) else self._placeholder("SECRET", value)

    def redact(self, text: str) -> str:
        """``text`` with every secret and account identifier replaced by its placeholder."""
        text = redact_text(text, self._secret)
        text = self._sub(_SUBSCRIPTION, "SUBSCRIPTION", text)
        for sub in self._known_subs:
            text = re.sub(re.escape(sub), lambda m: self._placeholder("SUBSCRIPTION", m.group(0)), text, flags=re.IGNORECASE)
        text = self._sub(_EMAIL, "EMAIL", text)
        return self._sub(_ACCOUNT, "ACCOUNT", text)

    def redact_tag(self, key: str, value: str) -> str:
        """A tag value, wholly replaced when the tag's *name* says it holds a secret."""
        return self.redact(redact_value(key, value, self._secret))

    def restore(self, text: str) -> str:
        """Identifiers put back; secret placeholders become :data:`REDACTED`."""
        restore_one: Callable[[re.Match[str]], str] = lambda m: (
            REDACTED if m.group(0).startswith("SECRET_") else self._back.get(m.group(0), m.group(0))
        )
        return _PLACEHOLDER.sub(restore_one, text)
