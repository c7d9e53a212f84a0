"""One redaction pass for every text that leaves Prismaflow for a person or a model.

Alert content is untrusted and sometimes holds live credentials: an access key pasted into a
description, a private key in a tag, a password in a connection URL inside resource data, a token
on a Compute command line. Prisma Cloud sends them as it found them; ``prisma.alerts.raw`` keeps
that record unchanged. Everything composed from it afterwards goes through this module first:

* the enrichment (:func:`processors.enrich.enrich`) redacts the alert's text fields and
  ``enrichment.resource_config_json``, so ``prisma.alerts`` and ``prisma.alerts.scored`` carry no
  secret;
* the analyser redacts its prompt (:class:`processors.analyze.redact.Redactor` reuses
  :data:`SECRET_PATTERNS` with numbered placeholders) and its output (:func:`redact_model` on the
  :class:`~processors.records.Analysis`);
* the composers of ticket, work-note, chat and SIEM text redact what they compose.

What counts as a secret (:data:`SECRET_PATTERNS`): AWS access key ids and secret access keys,
GCP API keys and service-account private keys, Azure storage keys, connection-string keys and SAS
signatures, PEM private keys, JWTs, GitHub/GitLab/Slack/OpenAI/Stripe/npm tokens, Slack webhook
URLs, ``Bearer``/``Authorization`` credentials, passwords in URLs (``scheme://user:pass@host``),
``password=``/``token: ``-style assignments and CLI flags (``--password x``, ``mysql -p…``).
In structured data (tags, resource configuration) a field whose *name* says it holds a secret
(``db_password``, ``apiKey``, ``GITHUB_TOKEN``, ``{"Key": "db_password", "Value": …}``) loses its
value, and a high-entropy value under a name that merely mentions one (``privateKeyData``) too.

Ordinary identifiers stay: ARNs (a Secrets Manager ARN included), sha1/sha256 digests, CVE ids,
UUIDs, account ids, ``HttpTokens: optional`` and ``password_last_used`` are not secrets, and the
tests hold every one of them. Redaction is idempotent: redacting redacted text changes nothing.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from pydantic import BaseModel

from processors.models import Alert

__all__ = [
    "REDACTED",
    "SECRET_PATTERNS",
    "Replace",
    "SecretPattern",
    "contains_secret",
    "is_secret_key",
    "looks_like_secret",
    "redact_alert",
    "redact_data",
    "redact_json_text",
    "redact_model",
    "redact_text",
    "redact_value",
]

#: What a secret is replaced with in everything that leaves for a person, a model or a topic.
REDACTED = "[REDACTED]"

#: ``replace(kind, secret)`` → the text to put in its place (default: :data:`REDACTED`).
Replace = Callable[[str, str], str]

M = TypeVar("M", bound=BaseModel)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values()) if value else 0.0


def _mixed(value: str) -> bool:
    """Upper case, lower case and digits all present: random keys have them, names and digests do not."""
    return any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)


def _random_looking(value: str) -> bool:
    return _mixed(value) and _entropy(value) >= 4.0


@dataclass(frozen=True)
class SecretPattern:
    """One kind of secret: its regex, and the group that is the secret (``v``; else the whole match).

    ``check`` filters matches a regex alone cannot tell from ordinary text (a 40-character path).
    """

    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None

    def secret_span(self, match: re.Match[str]) -> tuple[int, int]:
        return match.span("v") if "v" in self.pattern.groupindex and match.group("v") is not None else match.span()


def _p(kind: str, regex: str, flags: int = 0, check: Callable[[str], bool] | None = None) -> SecretPattern:
    return SecretPattern(kind, re.compile(regex, flags), check)


# Names (the end of a key) whose value is a secret, for "key = value" in free text. The key must
# *end* in one of them: "password_last_used: 2024" and "HttpTokens: optional" are settings.
_KEY_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|"
    r"private[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|shared[_-]?access[_-]?signature|"
    r"client[_-]?secret|credentials?|sig|signature|connection[_-]?string|authorization"
)
# A value that is plainly a setting or already masked, never a secret.
_NOT_SECRET_VALUES = frozenset({
    "true", "false", "yes", "no", "none", "null", "nil", "undefined", "required", "optional", "enabled",
    "disabled", "on", "off", "empty", "n/a", "na", "unset", "redacted", "hidden", "masked", "string",
    "bearer", "basic", "digest",
})
_ALREADY_REDACTED = re.compile(r"\[REDACTED\]|(?:SECRET|ACCOUNT|SUBSCRIPTION|EMAIL)_\d+|[*xX•]+|\$\{[^}]*\}")

_ASSIGNMENT = (r"(?i)(?<![A-Za-z0-9])[A-Za-z0-9_.-]*?(?:" + _KEY_WORDS + r")(?:\\?[\"'])?[ \t]*"
               r"(?:=>|=|:(?=[ \t]|\\?[\"']))[ \t]*")

SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    _p("private_key", r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----.*?"
                      r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.DOTALL),
    _p("aws_access_key_id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    _p("aws_secret_access_key", r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", check=_random_looking),
    _p("azure_storage_key", r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{86}==(?![A-Za-z0-9/+=])"),
    _p("gcp_api_key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    _p("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.(?:eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
    _p("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    _p("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    _p("slack_token", r"\b(?:xox[abposr]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})"),
    _p("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    _p("openai_key", r"\bsk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}", check=_mixed),
    _p("stripe_key", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"),
    _p("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    _p("bearer_token", r"(?i)\bbearer[ \t]+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)"),
    _p("authorization", r"(?i)\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:basic|digest|token|apikey|sharedkey)"
                        r"[ \t]+(?P<v>[A-Za-z0-9._~+/:=-]{8,})"),
    _p("url_password", r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s/:@'\"]*:(?P<v>[^\s/'\"]+)@"),
    _p("azure_sas_signature", r"(?i)(?<![A-Za-z0-9])sig=(?P<v>[A-Za-z0-9%+/=]{16,})"),
    _p("cli_password", r"(?i)(?<![A-Za-z0-9-])--?(?:password|passwd|pass|pwd|token|secret|api-key|apikey|access-key|"
                       r"secret-key|auth-token|client-secret)[ \t]+(?P<v>[^\s\"'-][^\s\"']*)"),
    _p("mysql_password", r"\b(?:mysql\w*|mariadb\w*)\b[^\n;|&]*?[ \t]-p(?P<v>[^\s\"']+)"),
    _p("sshpass_password", r"\bsshpass[ \t]+-p[ \t]*(?P<v>[^\s\"']+)"),
    _p("curl_user_password", r"\bcurl\b[^\n;|&]*?[ \t](?:-u|--user)[ \t]+[\"']?[^\s:\"']+:(?P<v>[^\s\"']+)"),
    # key = value / key: value / "key": "value", where the key ends in a secret's name. A colon
    # needs a space or a quote after it, so ARN segments ("…:secret:prod/db") are not taken.
    _p("assignment", _ASSIGNMENT + r"(?P<q>\\?[\"'])(?P<v>[^\"'\n]{1,400}?)(?P=q)"),
    _p("assignment", _ASSIGNMENT + r"(?:\\?[\"'])?(?P<v>[^\s\"'\\,;&}{<>\[\]()]{3,})"),
)

# Cheap anchors (lower case, also looked for with "_" and "-" removed): a text holding none of
# them holds no secret any pattern above would take. Substring tests run in C, so nearly every text
# pays a few microseconds instead of twenty regex scans. A bare 40-character AWS secret key or
# 88-character Azure key is recognised when the text has some other anchor ("secret", "AKIA…",
# "AccountKey="): without any context a random string cannot be told from an identifier.
_ANCHORS = (  # looked for with "_" and "-" removed
    "akia", "asia", "abia", "acca", "a3t", "eyj", "xox", "aiza", "bearer", "authorization", "://", "sig=",
    "pass", "pwd", "secret", "token", "credential", "signature", "apikey", "accesskey", "accountkey",
    "privatekey", "private key", "sharedaccess", "connectionstring", "cookie", '"sig"',
)
_DASHED_ANCHORS = (  # looked for as they are
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat", "glpat-", "xapp-", "sk-", "k_live", "k_test", "npm_",
    " -p", " -u", "--user",
)


def _may_hold_secret(text: str) -> bool:
    """False only when no pattern of :data:`SECRET_PATTERNS` can match ``text`` (a fast pre-check)."""
    if len(text) < 6:
        return False
    lower = text.lower()
    if "_" in lower or "-" in lower:
        if any(anchor in lower for anchor in _DASHED_ANCHORS):
            return True
        lower = lower.replace("_", "").replace("-", "")
    return any(anchor in lower for anchor in _ANCHORS)


def _keep(value: str) -> bool:
    """True for a value that is a setting or already redacted, not a secret."""
    stripped = value.strip().strip("\"'")
    return (not stripped or stripped.lower() in _NOT_SECRET_VALUES or stripped.startswith("arn:")
            or bool(_ALREADY_REDACTED.fullmatch(stripped)))


def _default_replace(kind: str, secret: str) -> str:
    return REDACTED


def redact_text(text: str, replace: Replace | None = None) -> str:
    """``text`` with every secret of :data:`SECRET_PATTERNS` replaced (by :data:`REDACTED`, or by
    ``replace(kind, secret)``). Pure and idempotent; for any string that leaves for a person or model."""
    if not _may_hold_secret(text):
        return text
    fill = replace or _default_replace
    for secret in SECRET_PATTERNS:
        def sub(match: re.Match[str], secret: SecretPattern = secret) -> str:
            start, end = secret.secret_span(match)
            value = match.string[start:end]
            if _keep(value) or (secret.check is not None and not secret.check(value)):
                return match.group(0)
            offset = match.start()
            whole = match.group(0)
            return whole[: start - offset] + fill(secret.kind, value) + whole[end - offset:]

        text = secret.pattern.sub(sub, text)
    return text


def contains_secret(text: str) -> bool:
    """True when :func:`redact_text` would change ``text``."""
    return redact_text(text) != text


# --- structured data: names that say "secret" ------------------------------------------------------

_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SECRET_HEADS = frozenset({
    "password", "passwd", "pwd", "passphrase", "passcode", "secret", "token", "apikey", "credential",
    "credentials", "privatekey", "secretkey", "accesskey", "accountkey", "connectionstring", "sig",
    "authorization", "cookie",
})
_SECRET_HEAD_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"), ("account", "key"),
    ("client", "secret"), ("connection", "string"), ("auth", "token"), ("shared", "key"), ("sas", "token"),
    ("master", "key"), ("signing", "key"), ("session", "token"), ("secret", "string"), ("secret", "binary"),
    ("access", "token"), ("refresh", "token"), ("key", "material"), ("webhook", "url"),
})
# Words that only *mention* a secret (``privateKeyData``, ``tokenValue``): a random-looking value
# under such a name is one. Each is also an anchor of :func:`_may_hold_secret`.
_SECRET_MENTIONS = _SECRET_HEADS | {"private"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?")
# Identifiers that look random but name things: UUIDs, hex digests, AWS resource ids (key-0abc…).
_IDENTIFIER = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|"
                         r"[0-9a-fA-F]{16,}|[a-z]{1,12}-[0-9a-f]{8,17}")


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_SPLIT.split(key) if w]


def is_secret_key(key: str) -> bool:
    """True for a field or tag *name* whose value is a secret: ``db_password``, ``apiKey``,
    ``GITHUB_TOKEN``, ``SecretString``, ``AccountKey``.

    The name must end in the secret's noun, so ``password_last_used``, ``PasswordPolicy``,
    ``HttpTokens`` and ``access_key_1_active`` (settings *about* a secret) are not secret keys.
    """
    words = _words(key)
    if not words:
        return False
    return words[-1] in _SECRET_HEADS or tuple(words[-2:]) in _SECRET_HEAD_PAIRS or "".join(words[-2:]) in _SECRET_HEADS


def looks_like_secret(value: str) -> bool:
    """True for a high-entropy token (16+ characters, no spaces, random-looking) that is not a date,
    an ARN or a URL: the test for values under names that only *mention* a secret."""
    text = value.strip()
    if len(text) < 16 or any(c.isspace() for c in text) or _DATE.fullmatch(text) or _IDENTIFIER.fullmatch(text):
        return False
    if text.startswith(("arn:", "http://", "https://", "/")):
        return False
    return _entropy(text) >= 3.5 and sum((any(c.isupper() for c in text), any(c.islower() for c in text),
                                          any(c.isdigit() for c in text), any(not c.isalnum() for c in text))) >= 2


def redact_value(key: str, value: str, replace: Replace | None = None) -> str:
    """A field or tag value, wholly replaced when its name says it is a secret (or mentions one and
    the value looks random), else with the secrets inside it replaced."""
    fill = replace or _default_replace
    if value and not _keep(value):
        if is_secret_key(key) or (set(_words(key)) & _SECRET_MENTIONS and looks_like_secret(value)):
            return fill("secret_field", value)
    return redact_text(value, replace)


_PAIR_NAMES = ("key", "name")


def redact_data(value: Any, replace: Replace | None = None, key: str = "") -> Any:
    """A copy of JSON-like ``value`` (dicts, lists, strings, numbers) with secrets replaced.

    Field names count (see :func:`redact_value`), including tag-list pairs such as
    ``{"Key": "db_password", "Value": "…"}`` and ``{"name": "API_TOKEN", "value": "…"}``. Numbers
    under a secret name are replaced too; booleans never. Unchanged parts are returned as they are.
    """
    if isinstance(value, str):
        return redact_value(key, value, replace) if key else redact_text(value, replace)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return (replace or _default_replace)("secret_field", str(value)) if key and is_secret_key(key) else value
    if isinstance(value, dict):
        lowered = {str(k).lower(): k for k in value}
        pair_name = next((value[lowered[n]] for n in _PAIR_NAMES if n in lowered and "value" in lowered
                          and isinstance(value[lowered[n]], str)), None)
        out: dict[Any, Any] = {}
        changed = False
        for k, v in value.items():
            name = pair_name if pair_name is not None and str(k).lower() == "value" else str(k)
            new = redact_data(v, replace, name)
            changed = changed or new is not v
            out[k] = new
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [redact_data(v, replace, key) for v in value]
        return items if any(a is not b for a, b in zip(items, value)) else value
    return value


def redact_json_text(text: str, replace: Replace | None = None) -> str:
    """JSON text with secrets replaced field-aware (see :func:`redact_data`); text that is not JSON
    is redacted as plain text. Returned unchanged (same string) when there was nothing to redact."""
    if not _may_hold_secret(text):
        return text
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return redact_text(text, replace)
    redacted = redact_data(data, replace)
    if redacted is data:
        return text
    return json.dumps(redacted, ensure_ascii=False, default=str)


def _redact_field(name: str, value: Any, replace: Replace | None) -> Any:
    if isinstance(value, str):
        return redact_json_text(value, replace) if name.endswith("_json") else redact_text(value, replace)
    if isinstance(value, BaseModel):
        return _redact_fields(value, replace)
    if isinstance(value, list):
        items = [_redact_field(name, v, replace) for v in value]
        return items if any(a is not b for a, b in zip(items, value)) else value
    if isinstance(value, dict):
        return redact_data(value, replace)  # alert data: its keys are names (tags), read as such
    return value


def _redact_fields(model: M, replace: Replace | None) -> M:
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        new = _redact_field(name, value, replace)
        if new is not value:
            update[name] = new
    return model.model_copy(update=update) if update else model


def redact_model(model: M, replace: Replace | None = None) -> M:
    """A copy of ``model`` with every string in it redacted: nested models, lists and dicts
    (dict keys are field names, so a tag named ``db_password`` loses its value), and ``*_json``
    string fields as JSON. The same object when nothing needed redacting.

    Field *names* of the model itself are ours, not the alert's, so they are not read as secret
    names; identifiers (alert, asset and resource ids) match no pattern and stay as they are.
    """
    return _redact_fields(model, replace)


def redact_alert(alert: Alert) -> Alert:
    """``alert`` with secrets removed from the fields that carry what Prisma Cloud found: policy
    name, description, recommendation, status reason, resource id/name/account name, tags
    (by name) and ``enrichment.resource_config_json`` (as JSON, by field name).

    Called once per alert by the enrichment, on the hot path: the fields are checked together
    first, and an alert without a hint of a secret (nearly all) is returned as it is.
    """
    res = alert.resource
    config = alert.enrichment.resource_config_json
    texts = (alert.policy_name, alert.description, alert.recommendation, alert.status_reason, res.resource_id,
             res.name, res.account_name, config, *res.tags, *res.tags.values())
    if not _may_hold_secret("\n".join(texts)):
        return alert
    resource = _redact_fields(res, None)
    new_config = redact_json_text(config)
    update: dict[str, Any] = {
        name: new for name in ("policy_name", "description", "recommendation", "status_reason")
        if (new := redact_text(getattr(alert, name))) is not getattr(alert, name)
    }
    if resource is not res:
        update["resource"] = resource
    if new_config is not config:
        update["enrichment"] = alert.enrichment.model_copy(update={"resource_config_json": new_config})
    return alert.model_copy(update=update) if update else alert
