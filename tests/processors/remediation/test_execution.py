"""The executor's port: which plug-in runs which kind, when an action runs, what a result says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from processors.remediation.execution import (
    ActionOutcome,
    ActionStatus,
    ExecutionRequest,
    ExecutionResult,
    PluginName,
    StepDecision,
    clean_output,
    clean_text,
    plugin_for,
    step_decision,
)
from processors.remediation.plan import ActionKind
from tests.processors.remediation.plan_factory import aws_action, cli_action, make_plan

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BUCKET = aws_action("s3", "PutPublicAccessBlock", "payroll", {"Bucket": "payroll"})


def _outcome(status: ActionStatus, index: int = 0) -> ActionOutcome:
    return ActionOutcome(index=index, kind=ActionKind.AWS_API, target_resource="payroll", status=status,
                         started_at=AT, ended_at=AT)


def _result(*statuses: ActionStatus, dry_run: bool = False) -> ExecutionResult:
    return ExecutionResult(plan_id="plan-1", plan_digest="d", alert_id="P-1001", dry_run=dry_run,
                           outcomes=tuple(_outcome(status, i) for i, status in enumerate(statuses)))


@pytest.mark.parametrize(("kind", "plugin"), [
    (ActionKind.AWS_API, PluginName.AWS),
    (ActionKind.AZURE_CLI, PluginName.RUNNER),
    (ActionKind.GCLOUD_CLI, PluginName.RUNNER),
    (ActionKind.TERRAFORM, None),
])
def test_each_action_kind_has_one_plugin_and_terraform_none(kind: ActionKind, plugin: PluginName | None) -> None:
    assert plugin_for(kind) is plugin


def test_a_request_is_a_dry_run_unless_it_says_otherwise() -> None:
    request = ExecutionRequest(plan=make_plan(BUCKET))
    assert request.dry_run is True
    with pytest.raises(ValidationError):
        ExecutionRequest(plan=make_plan(BUCKET), time_limit_s=0)


def test_the_next_action_runs_only_while_nothing_failed_time_is_left_and_its_kind_is_run() -> None:
    terraform = BUCKET.model_copy(update={"kind": ActionKind.TERRAFORM, "terraform": "resource {}"})
    assert step_decision(BUCKET, [], 10.0) is StepDecision.RUN
    assert step_decision(BUCKET, [_outcome(ActionStatus.OK)], 10.0) is StepDecision.RUN
    assert step_decision(BUCKET, [_outcome(ActionStatus.FAILED)], 10.0) is StepDecision.SKIP_AFTER_FAILURE
    assert step_decision(BUCKET, [], 0.0) is StepDecision.SKIP_OUT_OF_TIME
    assert step_decision(terraform, [], 10.0) is StepDecision.SKIP_NOT_EXECUTABLE
    assert step_decision(cli_action(ActionKind.AZURE_CLI, "sa", "storage"), [], 1.0) is StepDecision.RUN


def test_a_result_succeeds_only_without_failures_and_with_something_run_or_checked() -> None:
    assert _result(ActionStatus.OK, ActionStatus.OK).succeeded
    assert _result(ActionStatus.DRY_RUN, dry_run=True).succeeded
    assert not _result(ActionStatus.OK, ActionStatus.FAILED).succeeded
    assert not _result(ActionStatus.SKIPPED).succeeded
    failed = _result(ActionStatus.OK, ActionStatus.FAILED, ActionStatus.SKIPPED)
    assert failed.first_failure is not None and failed.first_failure.index == 1
    assert failed.changed_something
    assert not _result(ActionStatus.DRY_RUN, dry_run=True).changed_something


def test_captured_output_loses_credentials_and_is_cut_to_size() -> None:
    output = clean_output({"env": {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                           "stderr": "token=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB " + "x" * 10_000})
    text = str(output)
    assert "wJalrXUtnFEMI" not in text and "ghp_0123456789" not in text
    assert len(output["stderr"]) < 4_100 and output["stderr"].endswith("chars]")
    assert "AKIAIOSFODNN7EXAMPLE" not in clean_text("key AKIAIOSFODNN7EXAMPLE leaked")
