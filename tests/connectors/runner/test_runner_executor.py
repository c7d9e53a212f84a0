"""Azure and GCP actions run only through the configured runner: argv, no shell, minimal env, time limit."""

from __future__ import annotations

import json
import sys

import pytest
from pydantic import ValidationError

from connectors.runner.executor import RUNNER_ENVIRONMENT, RunnerExecutor
from connectors.runner.settings import RunnerSettings
from processors.remediation.execution import ActionStatus
from processors.remediation.plan import ActionKind
from tests.connectors.process_support import descendants, left_behind
from tests.processors.remediation.plan_factory import aws_action, cli_action

# A runner that reports how it was called: its arguments and its environment.
ECHO_RUNNER = json.dumps([sys.executable, "-I", "-c",
                          "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'env': sorted(os.environ)}))"])
STORAGE_FIX = cli_action(ActionKind.AZURE_CLI, "payrollsa", "storage", "account", "update", "--name", "payrollsa",
                         "--allow-blob-public-access", "false")


def test_without_a_runner_an_azure_or_gcp_action_is_refused_clearly() -> None:
    executor = RunnerExecutor(RunnerSettings())
    for dry_run in (True, False):
        outcome = executor.run(STORAGE_FIX, index=0, dry_run=dry_run, time_limit_s=30)
        assert outcome.status is ActionStatus.FAILED and outcome.error_class == "RunnerNotConfigured"
        assert "PRISMAFLOW_RUNNER_AZURE_COMMAND" in outcome.error_message
    gcloud = cli_action(ActionKind.GCLOUD_CLI, "bucket", "storage", "buckets", "update", "gs://b")
    assert "GCLOUD_COMMAND" in executor.run(gcloud, index=0, dry_run=False, time_limit_s=30).error_message


def test_the_runner_gets_the_argv_as_separate_arguments_and_a_minimal_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_CANARY_TOKEN", "do-not-leak")
    shell_bait = cli_action(ActionKind.AZURE_CLI, "sa", "storage", "account", "update", "--name", "sa; rm -rf / #",
                            "$(id)")
    executor = RunnerExecutor(RunnerSettings(azure_command=ECHO_RUNNER))

    outcome = executor.run(shell_bait, index=0, dry_run=False, time_limit_s=30)

    assert outcome.status is ActionStatus.OK, outcome.output
    reported = json.loads(outcome.output["stdout"])
    assert reported["argv"] == list(shell_bait.argv)  # passed as they are: nothing interpreted them
    assert set(reported["env"]) <= set(RUNNER_ENVIRONMENT) | {"LC_CTYPE"}
    assert outcome.output["exit_code"] == 0


def test_a_dry_run_reports_the_exact_command_and_starts_nothing() -> None:
    executor = RunnerExecutor(RunnerSettings(azure_command=json.dumps(["/nonexistent/runner", "--cloud", "azure"])))
    outcome = executor.run(STORAGE_FIX, index=0, dry_run=True, time_limit_s=30)
    assert outcome.status is ActionStatus.DRY_RUN
    assert outcome.output["would_run"] == ["/nonexistent/runner", "--cloud", "azure", *STORAGE_FIX.argv]


def test_a_runner_that_fails_or_hangs_is_reported_failed_and_killed() -> None:
    failing = RunnerExecutor(RunnerSettings(
        gcloud_command=json.dumps([sys.executable, "-I", "-c", "import sys; print('denied'); sys.exit(4)"])))
    outcome = failing.run(cli_action(ActionKind.GCLOUD_CLI, "b", "x"), index=0, dry_run=False, time_limit_s=30)
    assert outcome.error_class == "RunnerFailed" and outcome.output["stdout"].strip() == "denied"

    hanging = RunnerExecutor(RunnerSettings(
        gcloud_command=json.dumps([sys.executable, "-I", "-c", "import time; time.sleep(60)"]), time_limit_s=1.5))
    before = descendants()
    outcome = hanging.run(cli_action(ActionKind.GCLOUD_CLI, "b", "x"), index=0, dry_run=False, time_limit_s=30)
    assert outcome.error_class == "TimeLimitExceeded"
    assert left_behind(before) == set()


def test_the_runner_refuses_aws_actions_and_a_missing_program_is_a_failure() -> None:
    executor = RunnerExecutor(RunnerSettings(azure_command=json.dumps(["/nonexistent/runner"])))
    assert executor.run(aws_action("s3", "PutPublicAccessBlock", "b", {}), index=0, dry_run=False,
                        time_limit_s=5).error_class == "WrongPlugin"
    assert executor.run(STORAGE_FIX, index=0, dry_run=False, time_limit_s=5).error_class == "RunnerNotStarted"


@pytest.mark.parametrize("command", ["az storage update", '["az", "storage"]', "[]", '[""]', '{"a": 1}'])
def test_a_runner_command_must_be_a_json_argument_vector_with_an_absolute_program(command: str) -> None:
    with pytest.raises(ValidationError):
        RunnerSettings(azure_command=command)
