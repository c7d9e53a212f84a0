"""Policy families: which Prisma Cloud policies a fix family covers, and its allowlist.

The data lives in ``processors/remediation/families.yaml`` so that people can edit it; this module
parses it (unknown keys rejected, patterns compiled once) and answers two questions: which family an
alert belongs to (:meth:`FamilyCatalog.classify`), and what a plan of that family may do
(:class:`Family`: its cloud, the allowlisted AWS operations with the member that must name the
alert's own resource, Azure/GCP command prefixes, Terraform resource types and Checkov checks).

The file is read by the caller (once, at start-up) and handed over as text, so this stays pure.
"""

from __future__ import annotations

import re
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from processors.errors import ConfigurationError
from processors.models import Alert, Cloud
from processors.remediation.plan import ChangeRisk

__all__ = [
    "AllowedOperation",
    "Family",
    "FamilyCatalog",
    "FamilyMatch",
    "parse_families",
]

ACCOUNT_TARGET = "account"
"""``target`` of an account-wide operation: the plan's resource is the account itself."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FamilyMatch(_Strict):
    """Which alerts a family covers: an exact policy id, or a name pattern (and a resource type);
    with ``policy_types`` set, only alerts of those policy types (``iam`` for CIEM) at all."""

    policy_types: tuple[str, ...] = ()
    policy_ids: tuple[str, ...] = ()
    name_patterns: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = Field(
        default=(), description="If set, one of these must occur in the alert's resource type")

    @field_validator("name_patterns")
    @classmethod
    def _compilable(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid pattern {pattern!r}: {exc}") from None
        return patterns


class AllowedOperation(_Strict):
    """One botocore operation a family's plan may contain, and the member naming its target."""

    service: str
    operation: str
    target: str = Field(description="Input member that must be the alert's resource, or 'account'")
    or_created_by: str = Field(default="", description="Operation of the same plan whose target may also be used")


class CliPrefixes(_Strict):
    """Allowed argument-vector prefixes (without the program name) per cloud."""

    azure: tuple[str, ...] = ()
    gcp: tuple[str, ...] = ()


class Family(_Strict):
    """What a fix for one policy family may do."""

    name: str
    cloud: Cloud = Field(description="The cloud of the alerts it covers and of its actions")
    match: FamilyMatch
    aws_operations: tuple[AllowedOperation, ...] = ()
    cli_prefixes: CliPrefixes = CliPrefixes()
    terraform_resource_types: tuple[str, ...] = ()
    terraform_targets: dict[str, str] = Field(
        default_factory=dict, description="Resource type -> attribute that must name the alert's resource")
    checkov_checks: tuple[str, ...] = ()
    change_risk: ChangeRisk
    touches_iam: bool

    def allowed(self, service: str, operation: str) -> AllowedOperation | None:
        """The allowlist entry for ``service``/``operation``, or None when it is not allowed."""
        return next((o for o in self.aws_operations if (o.service, o.operation) == (service, operation)), None)

    def allows_argv(self, cloud: Literal["azure", "gcp"], argv: tuple[str, ...]) -> bool:
        """True when ``argv`` starts with one of the cloud's allowed prefixes, word for word."""
        prefixes = self.cli_prefixes.azure if cloud == "azure" else self.cli_prefixes.gcp
        return any(tuple(p.split()) == argv[: len(p.split())] for p in prefixes)

    def covers(self, alert: Alert) -> bool:
        """True when the alert's policy is one of this family's (policy type, then id or name and resource type)."""
        if self.match.policy_types and alert.policy_type.lower() not in self.match.policy_types:
            return False
        if alert.policy_id and alert.policy_id in self.match.policy_ids:
            return True
        if not any(re.search(p, alert.policy_name, re.IGNORECASE) for p in self.match.name_patterns):
            return False
        rtype = alert.resource.resource_type.lower()
        return not self.match.resource_types or any(t in rtype for t in self.match.resource_types)


class FamilyCatalog:
    """Every family, in file order; the first that covers an alert is its family."""

    def __init__(self, families: tuple[Family, ...]) -> None:
        self.families = families
        self._by_name = {f.name: f for f in families}

    def get(self, name: str) -> Family | None:
        return self._by_name.get(name)

    def classify(self, alert: Alert) -> Family | None:
        """The family of ``alert``'s policy among those of its cloud, or None when no family covers it."""
        return next((f for f in self.families if f.cloud is alert.resource.cloud and f.covers(alert)), None)


def parse_families(text: str, origin: str) -> FamilyCatalog:
    """The families file's text, validated; raises :class:`ConfigurationError` naming ``origin``."""
    try:
        document = yaml.safe_load(text)
        entries = document["families"]
        families = tuple(Family.model_validate({"name": name, **body}) for name, body in entries.items())
    except (yaml.YAMLError, ValidationError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"remediation families {origin} are invalid: {exc}") from exc
    for family in families:
        targets = {o.operation for o in family.aws_operations}
        for op in family.aws_operations:
            if op.or_created_by and op.or_created_by not in targets:
                raise ConfigurationError(
                    f"remediation families {origin}: {family.name} {op.operation} refers to "
                    f"{op.or_created_by}, which is not in its allowlist")
    return FamilyCatalog(families)
