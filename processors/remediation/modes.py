"""Rollout modes: how far Prismaflow may act on an alert, per account group, account and environment.

The rollout policy (a YAML file people edit, :class:`RolloutPolicy`) maps selectors to a mode:

- ``monitor``: analyses only — no ticket, no remediation request, nothing runs;
- ``assist``: tickets and proposed fixes; every fix waits for approval;
- ``auto``: like assist, except that an allowlisted low-risk fix outside production runs after
  validation without an approval; everything else waits for approval.

The most specific matching rule wins (an account beats an account group, which beats an environment;
selectors add up), a tie goes to the stricter mode, and with no match the policy's default applies
(``monitor`` unless the file says otherwise). :func:`decide_mode` is the one function every stage asks
"what happens to this alert?"; :func:`policy_change` says what changed between two loaded policies,
for the audit ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from processors.errors import ConfigurationError
from processors.models import Alert, Environment, ScoredAlert
from processors.records import RolloutMode
from processors.remediation.approval import required_approvals
from processors.remediation.plan import ChangeRisk, RemediationPlan, canonical_json

__all__ = [
    "ModeAction",
    "ModeOutcome",
    "ModeRule",
    "PolicyChange",
    "RolloutPolicy",
    "auto_allowed",
    "decide_mode",
    "mode_for",
    "parse_policy",
    "policy_change",
    "stricter",
    "looser",
]

_ORDER = (RolloutMode.MONITOR, RolloutMode.ASSIST, RolloutMode.AUTO)  # strictest first
_NON_PRODUCTION = (Environment.DEV, Environment.TEST, Environment.STAGING)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModeRule(_Frozen):
    """One line of the policy: the selectors it needs (all of those set) and the mode they get."""

    account_group: str | None = Field(default=None, description="Prisma Cloud account group name")
    account: str | None = Field(default=None, description="Cloud account id (AWS account, Azure subscription, ...)")
    environment: Environment | None = None
    mode: RolloutMode

    @property
    def specificity(self) -> int:
        """How specific the rule is: account 4, account group 2, environment 1, added up."""
        return 4 * (self.account is not None) + 2 * (self.account_group is not None) + (self.environment is not None)

    def matches(self, alert: Alert) -> bool:
        resource = alert.resource
        return ((self.account is None or self.account == resource.account_id)
                and (self.account_group is None or self.account_group in resource.account_groups)
                and (self.environment is None or self.environment is alert.enrichment.environment))


class RolloutPolicy(_Frozen):
    """The rollout policy file: a default mode, rules, and the policy families ``auto`` may run."""

    default: RolloutMode = RolloutMode.MONITOR
    rules: tuple[ModeRule, ...] = ()
    auto_allowlist: frozenset[str] = Field(
        default=frozenset(), description="Policy families whose low-risk fixes may run without approval in auto "
                                         "mode, outside production")
    auto_dismiss: frozenset[str] = Field(
        default=frozenset(), description="Policy families whose known false positives (alerts the history suggests "
                                         "dismissing) are dismissed in Prisma Cloud in auto mode, outside production")

    def digest(self) -> str:
        """SHA-256 of the policy's canonical JSON: equal policies, equal digests, whatever the YAML layout."""
        return hashlib.sha256(canonical_json(self.as_json()).encode("utf-8")).hexdigest()

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["auto_allowlist"] = sorted(data["auto_allowlist"])
        data["auto_dismiss"] = sorted(data["auto_dismiss"])
        if not data["auto_dismiss"]:
            del data["auto_dismiss"]  # absent as before it existed: an unchanged policy keeps its digest
        return data


def parse_policy(document: Any, source: str = "rollout policy") -> RolloutPolicy:
    """The policy from a parsed YAML document; :class:`ConfigurationError` naming ``source`` if invalid."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"{source}: expected a mapping with default, rules, auto_allowlist and auto_dismiss")
    try:
        return RolloutPolicy.model_validate(dict(document))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"{source}: {problems}") from None


def mode_for(alert: Alert, policy: RolloutPolicy) -> RolloutMode:
    """The mode of the most specific rule matching ``alert`` (the stricter on a tie), else the default."""
    matching = [rule for rule in policy.rules if rule.matches(alert)]
    if not matching:
        return policy.default
    best = max(rule.specificity for rule in matching)
    return min((rule.mode for rule in matching if rule.specificity == best), key=_ORDER.index)


def stricter(mode: RolloutMode) -> RolloutMode | None:
    """The next stricter mode (None for monitor)."""
    index = _ORDER.index(mode)
    return _ORDER[index - 1] if index > 0 else None


def looser(mode: RolloutMode) -> RolloutMode | None:
    """The next looser mode (None for auto)."""
    index = _ORDER.index(mode)
    return _ORDER[index + 1] if index + 1 < len(_ORDER) else None


def auto_allowed(plan: RemediationPlan, policy: RolloutPolicy) -> bool:
    """Whether ``plan`` may run without approval in auto mode: an allowlisted family, low change
    risk, no IAM change, and a known non-production environment."""
    return (plan.policy_family in policy.auto_allowlist and plan.change_risk is ChangeRisk.LOW
            and not plan.touches_iam and plan.environment in _NON_PRODUCTION)


class ModeAction(str, Enum):
    """What happens to a fix."""

    NONE = "none"  # nothing is proposed or run
    REQUEST_APPROVAL = "request_approval"  # a remediation request waits for its approvers
    AUTO_RUN = "auto_run"  # runs after validation, without approval


@dataclass(frozen=True)
class ModeOutcome:
    """What the rollout policy lets happen for one alert (and its plan, if any)."""

    mode: RolloutMode
    tickets: bool
    action: ModeAction
    required_approvals: int
    reason: str


def decide_mode(scored: ScoredAlert, plan: RemediationPlan | None, policy: RolloutPolicy, *,
                mode: RolloutMode | None = None) -> ModeOutcome:
    """What happens to ``scored`` and its ``plan`` under ``policy`` (or under ``mode``, to ask what
    another mode would have done: the shadow report)."""
    mode = mode or mode_for(scored.alert, policy)
    if mode is RolloutMode.MONITOR:
        return ModeOutcome(mode, False, ModeAction.NONE, 0, "monitor: analyses only, no ticket, no action")
    if plan is None:
        return ModeOutcome(mode, True, ModeAction.NONE, 0, f"{mode.value}: ticket; no fix proposed")
    if mode is RolloutMode.AUTO and auto_allowed(plan, policy):
        return ModeOutcome(mode, True, ModeAction.AUTO_RUN, 0,
                           f"auto: allowlisted low-risk {plan.policy_family} fix in {plan.environment.value} runs")
    needed = required_approvals(plan, auto_allowlisted=False)
    why = "every fix needs approval" if mode is RolloutMode.ASSIST else "not an allowlisted low-risk non-production fix"
    return ModeOutcome(mode, True, ModeAction.REQUEST_APPROVAL, needed, f"{mode.value}: {why} ({needed} approvers)")


@dataclass(frozen=True)
class PolicyChange:
    """What differs between the last policy seen and the one loaded now (an audit record's details)."""

    old_digest: str | None
    new_digest: str
    details: dict[str, Any]


def policy_change(previous: RolloutPolicy | None, current: RolloutPolicy) -> PolicyChange | None:
    """None when ``current`` equals ``previous``; otherwise old and new, and what changed."""
    if previous is not None and previous.digest() == current.digest():
        return None
    old = previous.as_json() if previous is not None else None
    new = current.as_json()
    details: dict[str, Any] = {"old": old, "new": new}
    if old is not None:
        old_rules = [canonical_json(r) for r in old["rules"]]
        new_rules = [canonical_json(r) for r in new["rules"]]
        details["rules_added"] = [r for r in new["rules"] if canonical_json(r) not in old_rules]
        details["rules_removed"] = [r for r in old["rules"] if canonical_json(r) not in new_rules]
        details["default_changed"] = old["default"] != new["default"]
    return PolicyChange(previous.digest() if previous is not None else None, current.digest(), details)
