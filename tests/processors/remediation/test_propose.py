"""From a scored alert (and its analysis) to a validated proposal: the planner first, the analysis as fallback."""

from __future__ import annotations

from connectors.aws.service_models import BotocoreServiceCatalog
from processors.remediation.families import FamilyCatalog
from processors.remediation.propose import PlanSource, ValidationPorts, propose_fix
from tests.factories import make_analysis, make_remediation_step
from tests.processors.remediation.conftest import MemoisingChecker, family_alert

DETACH = "aws iam detach-role-policy --role-name reporting-lambda --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"


def test_the_planners_plan_is_preferred_and_validated(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    analysis = make_analysis(remediation_steps=[make_remediation_step(command=DETACH, iac_snippet="")])
    proposal = propose_fix(family_alert("iam_policy_attachment"), families, ValidationPorts(catalog, terraform), analysis)
    assert proposal.accepted and proposal.source is PlanSource.PLANNER and proposal.family == "iam_policy_attachment"
    assert proposal.verdict is not None and proposal.plan is not None
    assert proposal.verdict.plan_digest == proposal.plan.digest()


def test_the_analysis_is_used_when_the_planner_lacks_data_and_is_validated_the_same_way(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    # The role's configuration lists no over-permissive policy, so the planner declines; the analysis
    # suggests detaching AdministratorAccess, which is allowlisted and on the alert's own role.
    scored = family_alert("iam_policy_attachment", config={"attachedPolicies": []},
                          policy_name="AWS IAM policies that allow full '*:*' administrative privileges")
    analysis = make_analysis(remediation_steps=[
        make_remediation_step(order=1, command=DETACH, iac_snippet=""),
        make_remediation_step(order=2, command="aws iam list-attached-role-policies --role-name reporting-lambda",
                              iac_snippet=""),
        make_remediation_step(order=3, command="aws iam attach-role-policy --role-name x --policy-arn y | sh",
                              iac_snippet="")])
    proposal = propose_fix(scored, families, ValidationPorts(catalog), analysis)
    assert proposal.accepted and proposal.source is PlanSource.ANALYSIS
    assert proposal.plan is not None and [a.operation for a in proposal.plan.actions] == ["DetachRolePolicy"]
    assert proposal.notes[0].startswith("planner: no over-permissive managed policy")
    assert any(n.startswith("analysis step 3 refused: shell syntax: '|'") for n in proposal.notes)
    assert any("left out as read-only" in n for n in proposal.notes)


def test_an_alert_without_a_plan_or_analysis_is_no_proposal(families: FamilyCatalog,
                                                            catalog: BotocoreServiceCatalog) -> None:
    proposal = propose_fix(family_alert("s3_public_access", policy_name="AWS EC2 instance with IMDSv1 enabled"),
                           families, ValidationPorts(catalog))
    assert not proposal.accepted and proposal.plan is None and proposal.source is None
    assert proposal.notes == ("planner: no remediation family covers policy 'test-s3_public_access'",)
