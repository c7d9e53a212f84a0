"""What names and tag values may say about an asset: its environment, and whether a tag is a safe owner.

Used by :class:`processors.enrich.owners.OwnerMap` once per distinct asset (its results are
memoised there). Everything here reads attacker-influenced text (account names, tags), so it
only ever *recognises* values from a closed vocabulary or a strict pattern; it never passes the
text through.

Environment from a name: ``acme-prod``, ``prd-payments``, ``Contoso-Production``,
``acme-ml-dev-1193`` (a GCP project id) and the Prisma account group ``Production`` all say
where the asset runs. Names are split into words on anything not a letter or digit (trailing
digits dropped: ``prod01``); ``pre-prod``/``preprod`` is staging and ``non-prod``/``nonprod``
is test before the words are looked up. A name whose words point at two environments says
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from processors.models import Environment

__all__ = [
    "ENVIRONMENT_WORDS",
    "environment_from_groups",
    "environment_from_name",
    "safe_email",
    "safe_slug",
]

#: Words that name an environment (lower case). Owner maps may add their own aliases.
ENVIRONMENT_WORDS: Mapping[str, Environment] = {
    "prod": Environment.PROD, "production": Environment.PROD, "prd": Environment.PROD, "live": Environment.PROD,
    "staging": Environment.STAGING, "stage": Environment.STAGING, "stg": Environment.STAGING,
    "preprod": Environment.STAGING, "uat": Environment.STAGING,
    "test": Environment.TEST, "testing": Environment.TEST, "qa": Environment.TEST, "nonprod": Environment.TEST,
    "dev": Environment.DEV, "development": Environment.DEV, "sandbox": Environment.DEV, "sbx": Environment.DEV,
}

_COMPOUNDS = (
    (re.compile(r"pre[-_ .]?prod(?:uction)?", re.IGNORECASE), "preprod"),
    (re.compile(r"non[-_ .]?prod(?:uction)?", re.IGNORECASE), "nonprod"),
)
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_MAX_NAME = 256
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_MAX_EMAIL = 254


def environment_from_name(name: str, words: Mapping[str, Environment] = ENVIRONMENT_WORDS) -> Environment | None:
    """The environment a name points at, or None when it names none or several."""
    text = name[:_MAX_NAME].lower()
    for pattern, word in _COMPOUNDS:
        text = pattern.sub(f" {word} ", text)
    found = set()
    for word in _WORD_SPLIT.split(text):
        env = words.get(word) or words.get(word.rstrip("0123456789"))
        if env is not None:
            found.add(env)
    return found.pop() if len(found) == 1 else None


def environment_from_groups(
    groups: Iterable[str], words: Mapping[str, Environment] = ENVIRONMENT_WORDS
) -> tuple[Environment, str] | None:
    """The environment Prisma account groups agree on, with the group that says it; None when they disagree."""
    found: dict[Environment, str] = {}
    for group in groups:
        env = environment_from_name(group, words)
        if env is not None:
            found.setdefault(env, group)
    if len(found) != 1:
        return None
    ((env, group),) = found.items()
    return env, group


def safe_email(value: str) -> str | None:
    """``value`` when it is a plain ASCII e-mail address of sensible length, else None."""
    text = value.strip()
    if len(text) > _MAX_EMAIL or not text.isascii() or not _EMAIL.fullmatch(text):
        return None
    return text


def safe_slug(value: str) -> str | None:
    """``value`` (trimmed, case kept: routing tables match it) when it is a short team slug, else None.

    A slug is ASCII letters, digits, ``.``, ``_`` and ``-``, starting and ending with a letter or digit.
    """
    text = value.strip()
    if not text.isascii() or not _SLUG.fullmatch(text.lower()):
        return None
    return text
