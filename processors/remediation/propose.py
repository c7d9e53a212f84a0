"""One call from a scored alert (and its analysis) to a validated fix proposal.

What the remediation request builder calls before anyone is asked to approve: the deterministic
planner first, because it builds from Prisma's structured fields; the analysis' suggested steps
only when the planner has no plan for the alert (a family without a builder, or data it lacks).
Either way the plan is validated, and the proposal carries the verdict: a plan whose verdict is
not accepted must never become a request that can be approved.

CIEM alerts of the ``iam_least_privilege`` family are planned from their identity's permission
records (:mod:`processors.remediation.ciem_plan`), which the caller fetched before (``permissions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from processors.models import ScoredAlert
from processors.records import Analysis
from processors.remediation.ciem_plan import LEAST_PRIVILEGE_FAMILY, plan_least_privilege
from processors.remediation.families import FamilyCatalog
from processors.remediation.from_analysis import plan_from_analysis
from processors.remediation.least_privilege import PermissionRecord
from processors.remediation.plan import RemediationPlan
from processors.remediation.planner import PlannerSettings, PlanOutcome, plan_for_alert
from processors.remediation.ports import IamPolicyLinter, ServiceCatalog, TerraformChecker
from processors.remediation.validate import PlanVerdict, validate_plan

__all__ = ["PlanSource", "Proposal", "ValidationPorts", "propose_fix"]


class PlanSource(str, Enum):
    """Where a proposed plan came from."""

    PLANNER = "planner"
    ANALYSIS = "analysis"


@dataclass(frozen=True)
class ValidationPorts:
    """The outside knowledge validation needs: botocore's models, the Terraform tooling and an IAM
    policy linter (without one, a plan that puts an IAM policy is refused)."""

    catalog: ServiceCatalog
    terraform: TerraformChecker | None = None
    iam_linter: IamPolicyLinter | None = None


@dataclass(frozen=True)
class Proposal:
    """A plan with its verdict, or no plan and why; ``notes`` lists what was refused or left out."""

    plan: RemediationPlan | None
    verdict: PlanVerdict | None
    source: PlanSource | None
    family: str
    notes: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        """True when there is a plan and validation accepted every part of it."""
        return self.plan is not None and self.verdict is not None and self.verdict.accepted


def _plan(scored: ScoredAlert, families: FamilyCatalog, settings: PlannerSettings | None,
          permissions: Sequence[PermissionRecord] | None) -> PlanOutcome:
    family = families.classify(scored.alert)
    if family is not None and family.name == LEAST_PRIVILEGE_FAMILY:
        return plan_least_privilege(scored.alert, family, permissions, settings)
    return plan_for_alert(scored, families, settings)


def propose_fix(scored: ScoredAlert, families: FamilyCatalog, ports: ValidationPorts,
                analysis: Analysis | None = None, settings: PlannerSettings | None = None,
                permissions: Sequence[PermissionRecord] | None = None) -> Proposal:
    """The validated fix for ``scored``: the planner's, else the analysis' (see the module docstring).

    ``permissions`` are the permission records of the alert's identity, for a CIEM alert (None when
    they were not fetched)."""
    outcome = _plan(scored, families, settings, permissions)
    if outcome.plan is not None:
        verdict = validate_plan(outcome.plan, families, ports.catalog, ports.terraform, ports.iam_linter)
        return Proposal(outcome.plan, verdict, PlanSource.PLANNER, outcome.family)
    notes = [f"planner: {outcome.reason}"]
    if analysis is None:
        return Proposal(None, None, None, outcome.family, tuple(notes))
    suggested = plan_from_analysis(scored, analysis, families, ports.catalog)
    notes += [f"analysis step {r.order} refused: {'; '.join(r.reasons)}" for r in suggested.refused]
    notes += [f"analysis step left out as read-only: {c[:120]}" for c in suggested.skipped_read_only]
    if suggested.plan is None:
        return Proposal(None, None, None, suggested.family or outcome.family, tuple(notes))
    verdict = validate_plan(suggested.plan, families, ports.catalog, ports.terraform, ports.iam_linter)
    return Proposal(suggested.plan, verdict, PlanSource.ANALYSIS, suggested.family, tuple(notes))
