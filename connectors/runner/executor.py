"""The runner plug-in: an ``AZURE_CLI`` / ``GCLOUD_CLI`` action's argv, run only through the configured runner.

:class:`RunnerExecutor` implements :class:`processors.remediation.execution.ActionPlugin`. The program
run is always the configured runner command, the action's argument vector appended as separate
arguments (no shell, so no quoting, pipes or substitutions exist to abuse); the environment holds
only :data:`RUNNER_ENVIRONMENT`; the time limit kills the runner's whole process group. Without a
runner for the action's cloud the action is refused (``RunnerNotConfigured``). A dry run never
starts the runner: it reports the exact argument vector that would run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.runner.settings import RunnerSettings, parse_command
from connectors.sandbox import run_child
from processors.remediation.execution import ActionOutcome, ActionStatus
from processors.remediation.plan import ActionKind, PlannedAction

__all__ = ["RUNNER_ENVIRONMENT", "RunnerExecutor"]

logger = logging.getLogger(__name__)

#: The runner's whole environment: a fixed PATH and locale; its own credentials are its business.
RUNNER_ENVIRONMENT: dict[str, str] = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class RunnerExecutor:
    """Runs Azure and GCP actions through the configured runner commands (see module doc)."""

    def __init__(self, settings: RunnerSettings, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._commands = {ActionKind.AZURE_CLI: parse_command(settings.azure_command),
                          ActionKind.GCLOUD_CLI: parse_command(settings.gcloud_command)}
        self._settings = settings
        self._clock = clock

    def run(self, action: PlannedAction, *, index: int, dry_run: bool, time_limit_s: float) -> ActionOutcome:
        """Run ``action``'s argv through its cloud's runner; refuse when there is none."""
        started = self._clock()
        command = self._commands.get(action.kind)
        program = command[0] if command else ""

        def outcome(status: ActionStatus, output: dict[str, Any] | None = None, error_class: str = "",
                    message: str = "") -> ActionOutcome:
            return ActionOutcome(index=index, kind=action.kind, target_resource=action.target_resource,
                                 operation=program, status=status, output=output or {},
                                 error_class=error_class, error_message=message, started_at=started,
                                 ended_at=self._clock())

        if command is None:
            return outcome(ActionStatus.FAILED, error_class="WrongPlugin",
                           message=f"the runner runs azure_cli and gcloud_cli actions, not {action.kind.value}")
        if not command:
            setting = "AZURE_COMMAND" if action.kind is ActionKind.AZURE_CLI else "GCLOUD_COMMAND"
            return outcome(ActionStatus.FAILED, error_class="RunnerNotConfigured",
                           message=f"no runner is configured for {action.kind.value} actions "
                                   f"(PRISMAFLOW_RUNNER_{setting}); Prismaflow never runs a cloud CLI itself")
        if not action.argv:
            return outcome(ActionStatus.FAILED, error_class="EmptyArgv", message="the action has no arguments")
        argv = [*command, *action.argv]
        if dry_run:
            return outcome(ActionStatus.DRY_RUN, {"would_run": argv,
                                                  "dry_run_check": "the runner is not started in a dry run"})
        limit = min(time_limit_s, self._settings.time_limit_s)
        try:
            child = run_child(argv, env=RUNNER_ENVIRONMENT, time_limit_s=limit,
                              max_output_bytes=self._settings.max_output_bytes)
        except (OSError, ValueError) as exc:
            return outcome(ActionStatus.FAILED, {"ran": argv}, "RunnerNotStarted", str(exc))
        logger.info("runner action kind=%s elapsed_s=%.2f timed_out=%s returncode=%s",
                    action.kind.value, child.elapsed_s, child.timed_out, child.returncode)
        output: dict[str, Any] = {"ran": argv, "exit_code": child.returncode,
                                  "stdout": child.stdout.decode("utf-8", "replace"),
                                  "stderr": child.stderr.decode("utf-8", "replace")}
        if child.timed_out:
            return outcome(ActionStatus.FAILED, output, "TimeLimitExceeded",
                           f"the runner ran past its time limit of {limit:g} s; its process group was killed")
        if child.returncode != 0:
            return outcome(ActionStatus.FAILED, output, "RunnerFailed", f"the runner exited with {child.returncode}")
        return outcome(ActionStatus.OK, output)
