"""A plan from an analysis' suggested steps: its commands and Terraform turned into structured actions.

An analysis (LLM or offline) suggests remediation steps as text: AWS CLI commands, ``az`` or
``gcloud`` commands, Terraform snippets. :func:`plan_from_analysis` turns each into a
:class:`~processors.remediation.plan.PlannedAction` (AWS through
:func:`~processors.remediation.aws_cli.translate_aws_command`, Azure/GCP as argument vectors,
Terraform as a snippet) and collects what it refused, with reasons. Read-only AWS calls (``get-``,
``describe-``, ``list-``) are diagnostics, not changes, and are left out of the plan.

The family (and so the allowlist) comes from the alert's policy, never from the analysis text; the
plan is then validated like any other, so text can at most propose, never widen what may run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from processors.models import ScoredAlert
from processors.records import Analysis
from processors.remediation.aws_cli import translate_aws_command
from processors.remediation.families import ACCOUNT_TARGET, Family, FamilyCatalog
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan
from processors.remediation.planner import build_plan
from processors.remediation.ports import ServiceCatalog
from processors.remediation.text_rules import credential_reasons, shell_syntax_reasons, unicode_reasons

__all__ = ["AnalysisPlan", "RefusedStep", "plan_from_analysis", "translate_cli_argv"]

_READ_ONLY = re.compile(r"^(Get|Describe|List|Lookup|Generate)[A-Z]")
_PROGRAMS = {"az": ActionKind.AZURE_CLI, "gcloud": ActionKind.GCLOUD_CLI}


@dataclass(frozen=True)
class RefusedStep:
    """A suggested step that did not become an action, and why."""

    order: int
    text: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AnalysisPlan:
    """The plan the analysis' steps make (None if none could be translated) and the steps refused."""

    plan: RemediationPlan | None
    family: str
    refused: tuple[RefusedStep, ...]
    skipped_read_only: tuple[str, ...] = ()


def translate_cli_argv(command: str, region: str = "") -> tuple[PlannedAction | None, tuple[str, ...]]:
    """An ``az``/``gcloud`` command as an argument vector (program name dropped), or the reasons not."""
    reasons = shell_syntax_reasons(command) + credential_reasons(command) + unicode_reasons(command)
    if reasons:
        return None, tuple(reasons)
    try:
        argv = shlex.split(command, posix=True)
    except ValueError as exc:
        return None, (f"not a well-formed command: {exc}",)
    if not argv or argv[0] not in _PROGRAMS:
        return None, ("not an az or gcloud command",)
    return PlannedAction(kind=_PROGRAMS[argv[0]], description=" ".join(argv[:4]), target_resource="",
                         region=region, argv=tuple(argv[1:])), ()


def _target(action: PlannedAction, family: Family, resource_id: str) -> str:
    """What the action says it changes: the value of its family's target member, else the plan's resource."""
    allowed = family.allowed(action.service, action.operation)
    if allowed is None or allowed.target == ACCOUNT_TARGET:
        return resource_id
    value = action.parameters.get(allowed.target)
    return value if isinstance(value, str) else ""


def plan_from_analysis(scored: ScoredAlert, analysis: Analysis, families: FamilyCatalog,
                       catalog: ServiceCatalog) -> AnalysisPlan:
    """The plan the analysis suggests for ``scored``'s alert; validate it before anyone is asked."""
    alert = scored.alert
    family = families.classify(alert)
    if family is None:
        refused = tuple(RefusedStep(s.order, s.command or s.iac_snippet, ("no remediation family covers the "
                                                                           "alert's policy",))
                        for s in analysis.remediation_steps if s.command or s.iac_snippet)
        return AnalysisPlan(None, "", refused)
    region = "" if alert.resource.region in ("", "global") else alert.resource.region
    actions: list[PlannedAction] = []
    refused_steps: list[RefusedStep] = []
    read_only: list[str] = []
    for step in sorted(analysis.remediation_steps, key=lambda s: s.order):
        command = step.command.strip()
        if command:
            action, reasons = _translate(command, catalog, region)
            if action is None:
                refused_steps.append(RefusedStep(step.order, command, reasons))
            elif action.kind is ActionKind.AWS_API and _READ_ONLY.match(action.operation):
                read_only.append(command)
            else:
                target = (_target(action, family, alert.resource.resource_id) if action.kind is ActionKind.AWS_API
                          else alert.resource.resource_id)
                actions.append(action.model_copy(update={"target_resource": target}))
        if step.iac_snippet.strip():
            actions.append(PlannedAction(kind=ActionKind.TERRAFORM, description="Terraform suggested by the analysis",
                                         target_resource=alert.resource.resource_id, region=region,
                                         terraform=step.iac_snippet))
    if not actions:
        return AnalysisPlan(None, family.name, tuple(refused_steps), tuple(read_only))
    plan = build_plan(alert, family, actions, summary=f"Suggested by the {analysis.analyser.value} analysis")
    return AnalysisPlan(plan, family.name, tuple(refused_steps), tuple(read_only))


def _translate(command: str, catalog: ServiceCatalog, region: str) -> tuple[PlannedAction | None, tuple[str, ...]]:
    program = command.split(maxsplit=1)[0]
    if program == "aws":
        translation = translate_aws_command(command, catalog, region=region)
        return translation.action, translation.reasons
    if program in _PROGRAMS:
        return translate_cli_argv(command, region)
    return None, (f"{program[:40]!r} is not a cloud CLI a fix may use",)
