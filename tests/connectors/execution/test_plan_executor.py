"""The plan loop: actions in order through their plug-ins, nothing after a failure, within the time limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.execution import PlanExecutor, build_executor
from connectors.runner.settings import RunnerSettings
from processors.remediation.execution import ActionOutcome, ActionStatus, ExecutionRequest, PluginName
from processors.remediation.plan import ActionKind, PlannedAction
from tests.connectors.aws.conftest import executor_settings
from tests.processors.remediation.plan_factory import aws_action, cli_action, make_plan

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TERRAFORM = PlannedAction(kind=ActionKind.TERRAFORM, target_resource="payroll",
                          terraform='resource "aws_s3_bucket_public_access_block" "p" {}')


class RecordingPlugin:
    """A plug-in that records what it was asked and answers with ``statuses`` in turn."""

    def __init__(self, *statuses: ActionStatus, on_run: Callable[[], None] = lambda: None) -> None:
        self.statuses = list(statuses)
        self.calls: list[dict[str, Any]] = []
        self.on_run = on_run

    def run(self, action: PlannedAction, *, index: int, dry_run: bool, time_limit_s: float) -> ActionOutcome:
        self.calls.append({"index": index, "dry_run": dry_run, "time_limit_s": time_limit_s})
        self.on_run()
        return ActionOutcome(index=index, kind=action.kind, target_resource=action.target_resource,
                             status=self.statuses.pop(0), started_at=AT, ended_at=AT)


def _bucket_fix(bucket: str = "payroll") -> PlannedAction:
    return aws_action("s3", "PutPublicAccessBlock", bucket, {"Bucket": bucket})


def test_actions_run_in_order_and_terraform_is_skipped() -> None:
    aws = RecordingPlugin(ActionStatus.OK, ActionStatus.OK)
    plan = make_plan(_bucket_fix(), TERRAFORM, _bucket_fix())
    result = PlanExecutor({PluginName.AWS: aws}, clock=lambda: AT).execute(
        ExecutionRequest(plan=plan, dry_run=False))
    assert [o.status for o in result.outcomes] == [ActionStatus.OK, ActionStatus.SKIPPED, ActionStatus.OK]
    assert [call["index"] for call in aws.calls] == [0, 2] and not aws.calls[0]["dry_run"]
    assert result.plan_digest == plan.digest() and result.alert_id == plan.alert_id and result.succeeded


def test_after_a_failure_the_rest_of_the_plan_is_skipped() -> None:
    aws = RecordingPlugin(ActionStatus.FAILED, ActionStatus.OK)
    result = PlanExecutor({PluginName.AWS: aws}).execute(ExecutionRequest(plan=make_plan(_bucket_fix(), _bucket_fix())))
    assert [o.status for o in result.outcomes] == [ActionStatus.FAILED, ActionStatus.SKIPPED]
    assert len(aws.calls) == 1 and not result.succeeded


def test_the_plans_time_limit_is_shared_by_its_actions() -> None:
    now = [100.0]
    aws = RecordingPlugin(ActionStatus.OK, ActionStatus.OK, ActionStatus.OK,
                          on_run=lambda: now.__setitem__(0, now[0] + 25.0))
    executor = PlanExecutor({PluginName.AWS: aws}, monotonic=lambda: now[0])
    result = executor.execute(ExecutionRequest(plan=make_plan(_bucket_fix(), _bucket_fix(), _bucket_fix()),
                                               time_limit_s=50.0))
    assert [call["time_limit_s"] for call in aws.calls] == [50.0, 25.0]
    assert result.outcomes[2].status is ActionStatus.SKIPPED and "time limit" in result.outcomes[2].output["reason"]


def test_an_action_whose_plugin_is_missing_fails_clearly() -> None:
    plan = make_plan(cli_action(ActionKind.AZURE_CLI, "sa", "storage", "account", "update"))
    result = PlanExecutor({PluginName.AWS: RecordingPlugin()}).execute(ExecutionRequest(plan=plan))
    assert result.outcomes[0].error_class == "PluginNotConfigured"


def test_the_assembled_executor_creates_and_starts_a_trail_for_real(moto_url: str, aws: Any, name: str) -> None:
    aws("s3").create_bucket(Bucket=name)
    plan = make_plan(aws_action("cloudtrail", "CreateTrail", name, {"Name": name, "S3BucketName": name}),
                     aws_action("cloudtrail", "StartLogging", name, {"Name": name}), TERRAFORM,
                     policy_family="cloudtrail_disabled")
    executor = build_executor(executor_settings(moto_url), RunnerSettings())

    dry = executor.execute(ExecutionRequest(plan=plan))
    # A dry run cannot check a step that depends on an earlier one: StartLogging's state read finds no
    # trail yet. The result says so, and nothing was created.
    assert [o.status for o in dry.outcomes] == [ActionStatus.DRY_RUN, ActionStatus.FAILED, ActionStatus.SKIPPED]
    assert dry.outcomes[1].error_class == "TrailNotFoundException"
    assert name not in {t["Name"] for t in aws("cloudtrail").describe_trails()["trailList"]}

    real = executor.execute(ExecutionRequest(plan=plan, dry_run=False))
    assert [o.status for o in real.outcomes] == [ActionStatus.OK, ActionStatus.OK, ActionStatus.SKIPPED]
    assert aws("cloudtrail").get_trail_status(Name=name)["IsLogging"] is True


def test_a_plan_whose_digest_is_not_the_approved_one_runs_nothing() -> None:
    aws = RecordingPlugin(ActionStatus.OK, ActionStatus.OK)
    approved = make_plan(_bucket_fix())
    tampered = make_plan(_bucket_fix("payroll-2"), resource_id="payroll-2")
    executor = PlanExecutor({PluginName.AWS: aws})

    refused = executor.execute(ExecutionRequest(plan=tampered, dry_run=False, approved_digest=approved.digest()))
    assert aws.calls == []
    assert [(o.status, o.error_class) for o in refused.outcomes] == [(ActionStatus.FAILED, "DigestMismatch")]

    ran = executor.execute(ExecutionRequest(plan=approved, dry_run=False, approved_digest=approved.digest()))
    assert [o.status for o in ran.outcomes] == [ActionStatus.OK] and len(aws.calls) == 1
