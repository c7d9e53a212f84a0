"""Owner, team, criticality, environment and data sensitivity of an asset.

The mapping is a YAML file people edit (``processors/enrich/data/owners.example.yaml`` documents
every key); it is parsed once into an :class:`OwnerMap`, whose :meth:`OwnerMap.resolve` is then
called per alert. Precedence, per attribute (most specific wins):

1. a rule with ``force: true`` that matches (the mapping overrides tags, e.g. a known mis-tagged
   account),
2. the resource's own tags, by the tag keys in ``tag_keys`` (case-insensitive; values mapped
   through the alias tables), because tags sit on the resource and are kept by its owners,
3. the first matching rule (account, cloud, resource type, name glob, tag globs),
4. the account entry,
5. for the environment only: the account's name (``acme-prod``), a project id that is a name
   (GCP ``acme-ml-dev-1193``), then its Prisma account groups ("Production"); see
   :mod:`processors.enrich.naming`,
6. ``defaults``.

Tags are attacker-controlled text (anyone who can tag a resource writes them), so a tag becomes
the ``owner`` only when it is a plain e-mail address or a team slug the mapping knows (``teams``,
or a ``team``/``owner`` the mapping names), and the ``team`` only when it is a short slug; any
other value is ignored and the next source decides.

Failure: :func:`parse_owner_map` raises :class:`ConfigurationError` naming the file and the key
for unknown keys, wrong values or bad YAML.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from processors.enrich.naming import (
    ENVIRONMENT_WORDS,
    environment_from_groups,
    environment_from_name,
    safe_email,
    safe_slug,
)
from processors.models import Cloud, Criticality, Environment, ResourceRef
from processors.yaml_documents import parse_yaml_document

__all__ = [
    "DataSensitivity",
    "OwnerAttributes",
    "OwnerMap",
    "OwnerMapFile",
    "OwnerRule",
    "ResolvedOwner",
    "TagKeys",
    "parse_owner_map",
]

DataSensitivity = Literal["public", "internal", "confidential", "restricted", "unknown"]
_SENSITIVITIES = ("public", "internal", "confidential", "restricted", "unknown")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OwnerAttributes(_Strict):
    """What the mapping can say about an asset; unset attributes fall through to the next source."""

    owner: str | None = None
    team: str | None = None
    criticality: Criticality | None = None
    environment: Environment | None = None
    data_sensitivity: DataSensitivity | None = None


class TagKeys(_Strict):
    """Which tag keys carry each attribute, in order of preference (matched case-insensitively)."""

    owner: list[str] = ["owner", "owner-email", "contact"]
    team: list[str] = ["team", "squad", "cost-center"]
    criticality: list[str] = ["criticality", "business-criticality", "tier"]
    environment: list[str] = ["env", "environment", "stage"]
    data_sensitivity: list[str] = ["data-classification", "data_classification", "dataclassification", "classification",
                                   "data-sensitivity", "data_sensitivity", "sensitivity", "confidentiality"]
    sensitive_data_flags: list[str] = Field(
        default_factory=lambda: ["pii", "contains-pii", "phi", "pci", "sensitive-data"],
        description="Tags whose true/yes value marks the data restricted (e.g. pii=true)",
    )


class OwnerRule(_Strict):
    """One mapping rule: all given conditions must hold (globs with ``*``/``?``), then ``set`` applies."""

    name: str
    account_id: str | None = None
    cloud: Cloud | None = None
    resource_type: str | None = None
    name_pattern: str | None = Field(default=None, description="glob on the resource name or id")
    tags: dict[str, str] = Field(default_factory=dict, description="tag key -> glob on its value")
    force: bool = False
    set: OwnerAttributes


class OwnerMapFile(_Strict):
    """The YAML file's schema (unknown keys rejected)."""

    version: Literal[1] = 1
    teams: list[str] = Field(
        default_factory=list, description="Team slugs accepted as an owner tag besides those the mapping names"
    )
    defaults: OwnerAttributes = OwnerAttributes()
    tag_keys: TagKeys = TagKeys()
    environment_aliases: dict[str, Environment] = Field(default_factory=dict)
    criticality_aliases: dict[str, Criticality] = Field(default_factory=dict)
    sensitivity_aliases: dict[str, DataSensitivity] = Field(default_factory=dict)
    accounts: dict[str, OwnerAttributes] = Field(default_factory=dict)
    rules: list[OwnerRule] = Field(default_factory=list)


_CRIT_ALIASES: Mapping[str, Criticality] = {
    "critical": Criticality.CRITICAL, "tier0": Criticality.CRITICAL, "tier-0": Criticality.CRITICAL,
    "mission-critical": Criticality.CRITICAL, "high": Criticality.HIGH, "tier1": Criticality.HIGH,
    "tier-1": Criticality.HIGH, "medium": Criticality.MEDIUM, "tier2": Criticality.MEDIUM,
    "tier-2": Criticality.MEDIUM, "low": Criticality.LOW, "tier3": Criticality.LOW, "tier-3": Criticality.LOW,
}
_SENS_ALIASES: Mapping[str, str] = {
    "public": "public", "internal": "internal", "private": "internal", "confidential": "confidential",
    "sensitive": "confidential", "restricted": "restricted", "secret": "restricted", "pii": "restricted",
    "pci": "restricted", "phi": "restricted",
}


@dataclass(frozen=True, slots=True)
class ResolvedOwner:
    """The attributes found for one asset and, per attribute, where they came from (for explanations)."""

    owner: str
    team: str
    criticality: Criticality
    environment: Environment
    data_sensitivity: str
    sources: Mapping[str, str]

    def attributes(self) -> dict[str, Any]:
        """The five attributes by name, as the alert's :class:`Enrichment` carries them."""
        return {name: getattr(self, name) for name in _ATTRS}


_ATTRS = ("owner", "team", "criticality", "environment", "data_sensitivity")
_TRUE = frozenset({"true", "yes", "y", "1"})


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: OwnerRule
    name_re: re.Pattern[str] | None
    tag_res: tuple[tuple[str, re.Pattern[str]], ...]

    def matches(self, resource: ResourceRef, tags_lower: Mapping[str, str]) -> bool:
        r = self.rule
        if r.account_id is not None and r.account_id != resource.account_id:
            return False
        if r.cloud is not None and r.cloud is not resource.cloud:
            return False
        if r.resource_type is not None and r.resource_type.lower() != resource.resource_type.lower():
            return False
        if self.name_re is not None and not (
            self.name_re.match(resource.name) or self.name_re.match(resource.resource_id)
        ):
            return False
        for key, pattern in self.tag_res:
            value = tags_lower.get(key)
            if value is None or not pattern.match(value):
                return False
        return True


class OwnerMap:
    """A compiled owner mapping; :meth:`resolve` is pure and cheap enough to call per alert."""

    def __init__(self, spec: OwnerMapFile | None = None) -> None:
        self.spec = spec or OwnerMapFile()
        self._rules = tuple(
            _CompiledRule(
                rule=r,
                name_re=re.compile(fnmatch.translate(r.name_pattern)) if r.name_pattern else None,
                tag_res=tuple((k.lower(), re.compile(fnmatch.translate(v), re.IGNORECASE)) for k, v in r.tags.items()),
            )
            for r in self.spec.rules
        )
        keys = self.spec.tag_keys
        self._tag_keys: Mapping[str, tuple[str, ...]] = {a: tuple(k.lower() for k in getattr(keys, a)) for a in _ATTRS}
        self._flag_keys = tuple(k.lower() for k in keys.sensitive_data_flags)
        self._env = {**ENVIRONMENT_WORDS, **{k.lower(): v for k, v in self.spec.environment_aliases.items()}}
        named = [self.spec.defaults, *self.spec.accounts.values(), *(r.set for r in self.spec.rules)]
        self._known_owners = {
            t.lower(): t for t in (*self.spec.teams, *(a.team for a in named if a.team), *(a.owner for a in named if a.owner))
        }
        self._crit = {**_CRIT_ALIASES, **{k.lower(): v for k, v in self.spec.criticality_aliases.items()}}
        self._sens = {**_SENS_ALIASES, **{k.lower(): v for k, v in self.spec.sensitivity_aliases.items()}}
        self._cached = functools.lru_cache(maxsize=65536)(self._resolve)

    def _from_tag(self, attr: str, value: str) -> Any:
        v = value.strip()
        if not v:
            return None
        if attr == "environment":
            return self._env.get(v.lower()) or environment_from_name(v, self._env)
        if attr == "criticality":
            key = re.sub(r"[\s_]+", "-", v.lower())
            return self._crit.get(key) or self._crit.get(key.replace("-", ""))
        if attr == "data_sensitivity":
            return self._sens.get(v.lower()) or self._most_sensitive_word(v)
        if attr == "owner":
            return safe_email(v) or self._known_owners.get(v.lower())
        return safe_slug(v)  # team

    def _most_sensitive_word(self, value: str) -> str | None:
        """``Highly Confidential`` -> confidential: the most sensitive class any word of the value names."""
        words = {self._sens.get(w) for w in re.split(r"[^a-z0-9]+", value.lower()[:128]) if w}
        return next((c for c in ("restricted", "confidential", "internal", "public") if c in words), None)

    def resolve(self, resource: ResourceRef) -> ResolvedOwner:
        """Resolve every attribute for ``resource`` by the precedence in the module docstring.

        Results are memoised (bounded LRU) on the fields that can influence them, since the
        same assets recur constantly in the stream.
        """
        return self._cached(
            resource.account_id,
            resource.cloud,
            resource.resource_type,
            resource.name,
            resource.resource_id,
            tuple(resource.tags.items()),
            resource.account_name,
            tuple(resource.account_groups),
        )

    def _resolve(
        self,
        account_id: str,
        cloud: Cloud,
        resource_type: str,
        name: str,
        resource_id: str,
        tags: tuple[tuple[str, str], ...],
        account_name: str = "",
        account_groups: tuple[str, ...] = (),
    ) -> ResolvedOwner:
        resource = ResourceRef(
            asset_id="", resource_id=resource_id, name=name, resource_type=resource_type, cloud=cloud,
            account_id=account_id, tags=dict(tags),
        )
        tags_lower = {k.lower(): v for k, v in tags}
        found: dict[str, Any] = {}
        sources: dict[str, str] = {}

        def take(attrs: OwnerAttributes, source: str) -> None:
            for a in _ATTRS:
                if a not in found:
                    v = getattr(attrs, a)
                    if v is not None:
                        found[a], sources[a] = v, source

        matching = [c for c in self._rules if c.matches(resource, tags_lower)]
        for c in matching:
            if c.rule.force:
                take(c.rule.set, f"rule:{c.rule.name}")
        for a in _ATTRS:
            if a in found:
                continue
            for key in self._tag_keys[a]:
                raw = tags_lower.get(key)
                if raw is not None:
                    v = self._from_tag(a, raw)
                    if v is not None:
                        found[a], sources[a] = v, f"tag:{key}"
                        break
        if "data_sensitivity" not in found:
            flag = next((k for k in self._flag_keys if tags_lower.get(k, "").strip().lower() in _TRUE), None)
            if flag is not None:
                found["data_sensitivity"], sources["data_sensitivity"] = "restricted", f"tag:{flag}"
        for c in matching:
            take(c.rule.set, f"rule:{c.rule.name}")
        account = self.spec.accounts.get(resource.account_id)
        if account is not None:
            take(account, f"account:{resource.account_id}")
        if "environment" not in found:
            self._environment_from_account(account_name, account_id, account_groups, found, sources)
        take(self.spec.defaults, "default")
        return ResolvedOwner(
            owner=str(found.get("owner", "")),
            team=str(found.get("team", "")),
            criticality=found.get("criticality", Criticality.UNKNOWN),
            environment=found.get("environment", Environment.UNKNOWN),
            data_sensitivity=str(found.get("data_sensitivity", "unknown")),
            sources=MappingProxyType(sources),
        )


    def _environment_from_account(
        self, name: str, account_id: str, groups: tuple[str, ...], found: dict[str, Any], sources: dict[str, str]
    ) -> None:
        """Fill the environment from the account's name, a named project id, or its account groups."""
        for label, text in (("account-name", name), ("account-id", account_id)):
            env = environment_from_name(text, self._env) if text and not text.isdigit() else None
            if env is not None:
                found["environment"], sources["environment"] = env, f"{label}:{text[:64]}"
                return
        by_group = environment_from_groups(groups, self._env)
        if by_group is not None:
            found["environment"], sources["environment"] = by_group[0], f"account-group:{by_group[1][:64]}"


def parse_owner_map(text: str, origin: str) -> OwnerMap:
    """Parse and validate the text of an owner mapping YAML file (``origin`` names it in errors)."""
    return OwnerMap(parse_yaml_document(text, OwnerMapFile, f"owner map {origin}", if_empty={}))
