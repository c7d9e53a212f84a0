"""Fix validation: may this plan be shown to an approver (and, in auto mode, run)?

Called on every plan before a remediation request is made, whatever wrote it (the deterministic
planner, an analysis, a person). Pure rules over the plan, the families file and three ports; the
verdict lists *every* failure, per action, so a reviewer sees all that is wrong at once. A plan is
accepted only when every action passes every rule:

AWS API actions
  * the operation exists in botocore's service model and the parameters are a valid input of it
    (:class:`~processors.remediation.ports.ServiceCatalog`, i.e. botocore's ``ParamValidator``);
  * the operation is on the plan's policy-family allowlist (``families.yaml``);
  * the member the allowlist names (``Bucket``, ``GroupId``, ``RoleName``...) is the plan's own
    resource, or a name an earlier action of the plan creates; account-wide operations target the
    plan's account;
  * no credentials, shell syntax, invisible or non-ASCII characters, or over-long values anywhere in
    the parameters; the region is an AWS region (the plan's), empty only for global services;
  * an IAM policy document it puts (``PolicyDocument``) is JSON and a least-privilege policy: no
    ``*`` actions, no ``NotAction``, no ``iam:PassRole`` on every role, and clean for the IAM policy
    linter (:class:`~processors.remediation.ports.IamPolicyLinter`, parliament); no linter, refused.
Azure / GCP argument vectors
  * the plan's cloud; an allowlisted command prefix of the family; no shell syntax, credentials or
    odd characters in any argument; the plan's resource among the arguments, and no other
    subscription or project.
Terraform snippets
  * parse as HCL2; declare only the family's resource types, no provisioners; pass the family's
    Checkov checks.

Unknown families, a cloud mismatch or a missing Terraform checker fail closed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from dataclasses import dataclass

from processors.models import Cloud
from processors.remediation.aws_cli import REGION
from processors.remediation.families import ACCOUNT_TARGET, Family, FamilyCatalog
from processors.remediation.least_privilege import least_privilege_reasons
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan
from processors.remediation.planner import resource_name
from processors.remediation.ports import IamPolicyLinter, ServiceCatalog, TerraformChecker
from processors.remediation.text_rules import (
    MAX_DOCUMENT_LENGTH,
    credential_reasons,
    iter_strings,
    secret_field_reasons,
    shell_syntax_reasons,
    unicode_reasons,
)

__all__ = ["ActionVerdict", "GLOBAL_SERVICES", "PlanVerdict", "validate_plan"]

GLOBAL_SERVICES = frozenset({"iam", "organizations", "sts"})
"""Services whose calls need no region."""

_OTHER_REGION = re.compile(r"^[a-z][a-z0-9-]{1,39}$")  # westeurope, europe-west4, us-central1-a
_PROVISIONER = re.compile(r"\b(provisioner|local-exec|remote-exec)\b")
_ACCOUNT_FLAGS = {ActionKind.AZURE_CLI: ("--subscription",), ActionKind.GCLOUD_CLI: ("--project",)}
_CLI_CLOUD = {ActionKind.AZURE_CLI: (Cloud.AZURE, "azure"), ActionKind.GCLOUD_CLI: (Cloud.GCP, "gcp")}


@dataclass(frozen=True)
class ActionVerdict:
    """One action's result: accepted, or every reason it is not."""

    index: int
    label: str
    reasons: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class PlanVerdict:
    """The plan's result: accepted only when the plan and all of its actions are."""

    plan_id: str
    plan_digest: str
    plan_reasons: tuple[str, ...]
    actions: tuple[ActionVerdict, ...]

    @property
    def accepted(self) -> bool:
        return not self.plan_reasons and all(a.accepted for a in self.actions)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every reason, action reasons prefixed with the action (``action 1 s3 PutPublicAccessBlock: ...``)."""
        return self.plan_reasons + tuple(f"action {a.index + 1} {a.label}: {r}" for a in self.actions for r in a.reasons)


def validate_plan(plan: RemediationPlan, families: FamilyCatalog, catalog: ServiceCatalog,
                  terraform: TerraformChecker | None = None, linter: IamPolicyLinter | None = None) -> PlanVerdict:
    """Check ``plan`` against every rule; see the module docstring for the rules."""
    family = families.get(plan.policy_family)
    plan_reasons = _plan_reasons(plan, family)
    verdicts = []
    for index, action in enumerate(plan.actions):
        earlier = plan.actions[:index]
        label = f"{action.service} {action.operation}" if action.kind is ActionKind.AWS_API else action.kind.value
        if family is None:
            reasons: list[str] = ["no allowlist: unknown policy family"]
        elif action.kind is ActionKind.AWS_API:
            reasons = _aws_reasons(plan, family, action, earlier, catalog) + _policy_document_reasons(action, linter)
        elif action.kind in _CLI_CLOUD:
            reasons = _cli_reasons(plan, family, action)
        else:
            reasons = _terraform_reasons(plan, family, action, terraform, run_checkov=not plan_reasons)
        verdicts.append(ActionVerdict(index, label, tuple(dict.fromkeys(reasons))))
    return PlanVerdict(plan.plan_id, plan.digest(), tuple(plan_reasons), tuple(verdicts))


def _plan_reasons(plan: RemediationPlan, family: Family | None) -> list[str]:
    reasons = []
    if family is None:
        reasons.append(f"unknown policy family {plan.policy_family[:60]!r}")
    for name, value in (("resource id", plan.resource_id), ("account id", plan.account_id)):
        reasons += [f"{name}: {r}" for r in shell_syntax_reasons(value) + unicode_reasons(value)]
    if not plan.resource_id.strip():
        reasons.append("the plan names no resource")
    if family is not None and family.cloud is not plan.cloud:
        reasons.append(f"family {family.name} is for {family.cloud.value}, the plan for {plan.cloud.value}")
    region_format = REGION if plan.cloud is Cloud.AWS else _OTHER_REGION
    if plan.region and not region_format.match(plan.region):
        reasons.append(f"region {plan.region[:40]!r} is not a {plan.cloud.value} region name")
    return reasons


def _identifiers(resource_id: str) -> set[str]:
    return {resource_id, resource_name(resource_id)} - {""}


def _value_reasons(values: Sequence[str], documents: Sequence[str] = ()) -> list[str]:
    """The text rules on every value; ``documents`` (IAM policy JSON) may be as long as AWS allows."""
    reasons: list[str] = []
    for value in values:
        reasons += shell_syntax_reasons(value) + credential_reasons(value) + unicode_reasons(value)
    for document in documents:
        reasons += (shell_syntax_reasons(document) + credential_reasons(document)
                    + unicode_reasons(document, limit=MAX_DOCUMENT_LENGTH))
    return reasons


def _parameter_texts(parameters: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Every string in ``parameters``, with the IAM policy document (``PolicyDocument``) apart."""
    document = parameters.get("PolicyDocument")
    if not isinstance(document, str):
        return [*iter_strings(parameters)], []
    rest = {key: value for key, value in parameters.items() if key != "PolicyDocument"}
    return [*iter_strings(rest), "PolicyDocument"], [document]


def _aws_reasons(plan: RemediationPlan, family: Family, action: PlannedAction,
                 earlier: Sequence[PlannedAction], catalog: ServiceCatalog) -> list[str]:
    reasons = []
    if plan.cloud is not Cloud.AWS:
        reasons.append(f"an AWS action in a plan for {plan.cloud.value}")
    if action.argv or action.terraform:
        reasons.append("an AWS action carries an argument vector or a snippet")
    if not catalog.operation_exists(action.service, action.operation):
        reasons.append(f"{action.service[:40]!r} has no operation {action.operation[:60]!r} in botocore's models")
    else:
        reasons += [f"invalid parameters: {e}" for e in catalog.parameter_errors(
            action.service, action.operation, action.parameters)]
    values, documents = _parameter_texts(action.parameters)
    reasons += _value_reasons([*values, action.target_resource], documents)
    reasons += secret_field_reasons(action.parameters)
    allowed = family.allowed(action.service, action.operation)
    if allowed is None:
        reasons.append(f"{action.service} {action.operation} is not on the {family.name} allowlist")
    elif allowed.target == ACCOUNT_TARGET:
        if action.target_resource != plan.resource_id:
            reasons.append(f"targets {action.target_resource[:80]!r}, not the alert's resource {plan.resource_id[:80]!r}")
    else:
        targets = _identifiers(plan.resource_id)
        if allowed.or_created_by:
            targets |= {str(a.parameters.get(allowed.target)) for a in earlier
                        if a.operation == allowed.or_created_by and a.parameters.get(allowed.target)}
        value = action.parameters.get(allowed.target)
        if not isinstance(value, str) or value not in targets:
            reasons.append(f"{allowed.target}={str(value)[:80]!r} is not the alert's resource {plan.resource_id[:80]!r}")
        if action.target_resource not in targets:
            reasons.append(f"target {action.target_resource[:80]!r} is not the alert's resource {plan.resource_id[:80]!r}")
    reasons += _region_reasons(plan, action)
    return reasons


def _policy_document_reasons(action: PlannedAction, linter: IamPolicyLinter | None) -> list[str]:
    if action.service != "iam" or "PolicyDocument" not in action.parameters:
        return []
    text = action.parameters["PolicyDocument"]
    try:
        document = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        document = None
    if not isinstance(document, Mapping):
        return ["PolicyDocument is not a JSON policy document"]
    if linter is None:
        return ["no IAM policy linter is configured, so the policy document cannot be validated"]
    return [f"policy document: {r}" for r in least_privilege_reasons(document, linter)]


def _region_reasons(plan: RemediationPlan, action: PlannedAction) -> list[str]:
    if not action.region:
        return [] if action.service in GLOBAL_SERVICES else [f"{action.service} needs a region"]
    if not REGION.match(action.region):
        return [f"region {action.region[:40]!r} is not an AWS region name"]
    if plan.region and action.region != plan.region and action.service not in GLOBAL_SERVICES:
        return [f"region {action.region} is not the alert's region {plan.region}"]
    return []


def _cli_reasons(plan: RemediationPlan, family: Family, action: PlannedAction) -> list[str]:
    cloud, name = _CLI_CLOUD[action.kind]
    reasons = []
    if plan.cloud is not cloud:
        reasons.append(f"a {name} command in a plan for {plan.cloud.value}")
    argv = action.argv
    if not argv or argv[0].startswith("-"):
        reasons.append("the argument vector names no command")
    reasons += _value_reasons([*argv, action.target_resource])
    if argv and not family.allows_argv("azure" if cloud is Cloud.AZURE else "gcp", argv):
        reasons.append(f"{' '.join(argv[:4])[:80]!r} is not an allowlisted {name} command of {family.name}")
    targets = _identifiers(plan.resource_id)
    if not any(a in targets or a.removeprefix("gs://") in targets for a in argv):
        reasons.append(f"no argument names the alert's resource {plan.resource_id[:80]!r}")
    for flag in _ACCOUNT_FLAGS[action.kind]:
        for i, arg in enumerate(argv):
            value = arg.split("=", 1)[1] if arg.startswith(flag + "=") else (
                argv[i + 1] if arg == flag and i + 1 < len(argv) else None)
            if value is not None and value != plan.account_id:
                reasons.append(f"{flag} {value[:60]!r} is not the alert's account {plan.account_id[:60]!r}")
    return reasons


def _terraform_reasons(plan: RemediationPlan, family: Family, action: PlannedAction,
                       checker: TerraformChecker | None, *, run_checkov: bool) -> list[str]:
    snippet = action.terraform
    reasons = [*credential_reasons(snippet), *unicode_reasons(snippet, limit=MAX_DOCUMENT_LENGTH)]
    if action.parameters or action.argv:
        reasons.append("a Terraform action carries parameters or an argument vector")
    if not snippet.strip():
        return [*reasons, "empty Terraform snippet"]
    if _PROVISIONER.search(snippet):
        reasons.append("provisioners run commands; a fix snippet may not have one")
    if checker is None:
        return [*reasons, "no Terraform checker is configured, so the snippet cannot be validated"]
    parse_errors = checker.parse_errors(snippet)
    if parse_errors:
        return [*reasons, *(f"does not parse: {e}" for e in parse_errors)]
    blocks = checker.blocks(snippet)
    if not any(b.block == "resource" for b in blocks):
        reasons.append("the snippet declares no resource")
    outside = [f"{b.block} {b.type}" for b in blocks
               if b.block != "resource" or b.type not in family.terraform_resource_types]
    if outside:
        reasons.append(f"{', '.join(outside)[:120]} not allowed for {family.name}")
    for block in blocks:
        attribute = family.terraform_targets.get(block.type)
        if attribute and block.attributes.get(attribute) not in _identifiers(plan.resource_id):
            value = str(block.attributes.get(attribute))[:80]
            reasons.append(f"{block.type}.{block.name} {attribute}={value!r} is not the alert's resource")
    # Checkov takes seconds; it runs only on a snippet (and plan) that passed every other rule.
    if family.checkov_checks and not reasons and run_checkov:
        reasons += [f"fails Checkov {f.check_id}: {f.message}" for f in checker.failed_checks(snippet, family.checkov_checks)]
    return reasons
