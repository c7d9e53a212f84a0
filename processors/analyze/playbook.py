"""The offline playbook library: one YAML file per policy family in ``processors/analyze/playbooks/``.

A playbook says which findings it covers (``match``: policy types, keyword groups on the policy
name, resource-type keywords), how to explain them (templates), and how to fix them (ordered steps
with a CLI command per cloud and a Terraform snippet per cloud) and who approves the fix in each
environment. Templates use ``{{name}}`` placeholders (single braces stay free for Terraform) filled by
:func:`render`; a command whose placeholder has no safe value is left out rather than guessed.

Parsed from each file's text by :func:`parse_playbook` (unknown keys are rejected); the files are read
once at start-up by :mod:`streams.analysis.inputs`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from processors.analyze.vocabulary import FAMILIES
from processors.errors import ConfigurationError
from processors.models import Alert, Environment

__all__ = [
    "Playbook",
    "PlaybookLibrary",
    "PlaybookMatch",
    "PlaybookStep",
    "parse_playbook",
    "render",
]

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaybookMatch(_Strict):
    """Which findings a playbook covers. Score: +3 keyword group, +2 policy type, +1 resource type."""

    policy_types: list[str] = Field(default_factory=list)
    policy_types_sufficient: bool = Field(default=False, description="A policy-type match alone is enough")
    has_vulnerabilities: bool = Field(default=False, description="+3 when the alert lists vulnerabilities")
    keywords: list[list[str]] = Field(default_factory=list, description="Any group whose words all occur")
    resource_types: list[str] = Field(default_factory=list)


class PlaybookStep(_Strict):
    """One step; ``cli`` and ``terraform`` are keyed by cloud (``aws``/``azure``/``gcp``, ``host``: any)."""

    description: str
    cli: dict[str, str] = Field(default_factory=dict)
    terraform: dict[str, str] = Field(default_factory=dict)
    for_each: Literal["vulnerability"] | None = None
    when: Literal["os_package", "library", "no_fix"] | None = None


class Playbook(_Strict):
    """One policy family's explanation, plan and approval rules."""

    id: str
    version: int = Field(ge=1)
    family: str
    title: str
    match: PlaybookMatch
    explanation: str
    business_impact: str
    root_cause: str
    actions: list[str]
    steps: list[PlaybookStep]
    approval: dict[Environment, str]
    references: list[str] = Field(default_factory=list, description="Knowledge passages always cited")

    def score(self, alert: Alert) -> int:
        """How well this playbook fits ``alert``; 0 means it does not apply."""
        name = f"{alert.policy_name} {alert.policy_type}".lower()
        rtype = alert.resource.resource_type.lower()
        keyword = any(all(re.search(r"\b" + re.escape(w.lower()), name) for w in group) for group in self.match.keywords)
        ptype = bool(alert.policy_type) and alert.policy_type in self.match.policy_types
        vulns = self.match.has_vulnerabilities and bool(alert.vulnerabilities)
        rmatch = any(k in rtype for k in self.match.resource_types)
        if not (keyword or (ptype and self.match.policy_types_sufficient) or vulns):
            return 0
        return 3 * keyword + 2 * ptype + 3 * vulns + rmatch

    def approval_for(self, environment: Environment) -> str:
        return self.approval.get(environment) or self.approval.get(Environment.UNKNOWN, "")


def parse_playbook(text: str, origin: str) -> Playbook:
    """One playbook file's text, validated; raises :class:`ConfigurationError` naming ``origin``."""
    try:
        playbook = Playbook.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"playbook {origin} is invalid: {exc}") from exc
    if playbook.family not in FAMILIES:
        raise ConfigurationError(f"playbook {origin} has unknown family {playbook.family!r}")
    return playbook


class PlaybookLibrary:
    """All playbooks (in file order), and the choice of the best one for an alert."""

    def __init__(self, playbooks: list[Playbook]) -> None:
        self.playbooks = playbooks

    def match(self, alert: Alert) -> Playbook | None:
        """The best-scoring playbook for ``alert`` (ties: file order), or None."""
        best: tuple[int, Playbook] | None = None
        for playbook in self.playbooks:
            score = playbook.score(alert)
            if score > 0 and (best is None or score > best[0]):
                best = (score, playbook)
        return best[1] if best else None

    def by_family(self, family: str) -> Playbook | None:
        return next((p for p in self.playbooks if p.family == family), None)


_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:/@+=,*-]{1,255}$")


def render(template: str, values: Mapping[str, str], *, strict: bool) -> str | None:
    """Fill ``{{name}}`` placeholders.

    ``strict`` (commands, snippets): every value must exist and look like an identifier (no spaces
    or shell characters), else None, so an attacker-chosen resource name cannot smuggle a command
    into a plan. Otherwise (prose) a missing or empty value renders as nothing, and the space or
    empty brackets it leaves are tidied ("a {{environment}} workload" reads "a workload"; it used
    to read "a unknown workload", and an empty optional sentence was "unknown").
    """
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1), "")
        if strict and not _SAFE_VALUE.fullmatch(value):
            missing = True
            return ""
        return value

    text = _PLACEHOLDER.sub(fill, template)
    if missing:
        return None
    if strict:
        return text if "\n" in text else " ".join(text.split())
    return _tidy(text)


_EMPTY_BRACKETS = re.compile(r"\(\s*\)")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:)])")


def _tidy(text: str) -> str:
    """Prose with the gaps of empty values closed: no doubled spaces, ``()`` or space before ``.``."""
    text = _EMPTY_BRACKETS.sub("", text)
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split()))
