"""The plan loop: each action of an approved plan to the plug-in its kind names, in order, within the time limit.

:class:`PlanExecutor` asks :func:`processors.remediation.execution.step_decision` whether each action
runs (not after a failure, never Terraform, not past the plan's time limit, nothing when the plan's
digest is not the approved one) and
:func:`~processors.remediation.execution.plugin_for` which plug-in runs it; an action whose plug-in is
not configured here fails with ``PluginNotConfigured``. It never raises for a failed action: the
:class:`~processors.remediation.execution.ExecutionResult` says what happened to each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from connectors.aws.executor import AwsExecutor
from connectors.aws.settings import AwsExecutorSettings
from connectors.runner.executor import RunnerExecutor
from connectors.runner.settings import RunnerSettings
from processors.remediation.execution import (
    ActionOutcome,
    ActionPlugin,
    ActionStatus,
    ExecutionRequest,
    ExecutionResult,
    PluginName,
    StepDecision,
    plugin_for,
    step_decision,
)
from processors.remediation.followup import skipped_outcome

__all__ = ["PlanExecutor", "build_executor"]

logger = logging.getLogger(__name__)


class PlanExecutor:
    """Runs plans through ``plugins``; ``clock`` stamps outcomes, ``monotonic`` measures the time limit."""

    def __init__(self, plugins: Mapping[PluginName, ActionPlugin], *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._plugins = dict(plugins)
        self._clock = clock
        self._monotonic = monotonic

    def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Every action's outcome, in plan order (see module doc)."""
        plan = request.plan
        deadline = self._monotonic() + request.time_limit_s
        outcomes: list[ActionOutcome] = []
        for index, action in enumerate(plan.actions):
            time_left = deadline - self._monotonic()
            decision = (step_decision(action, outcomes, time_left) if request.digest_matches
                        else StepDecision.REFUSE_DIGEST_MISMATCH)
            name = plugin_for(action.kind)
            plugin = self._plugins.get(name) if name is not None else None
            if decision is not StepDecision.RUN:
                outcomes.append(skipped_outcome(action, index, decision, self._clock()))
            elif plugin is None:
                at = self._clock()
                outcomes.append(ActionOutcome(
                    index=index, kind=action.kind, target_resource=action.target_resource, status=ActionStatus.FAILED,
                    error_class="PluginNotConfigured", started_at=at, ended_at=at,
                    error_message=f"no {name.value if name else ''} plug-in is configured for {action.kind.value}"))
            else:
                outcomes.append(plugin.run(action, index=index, dry_run=request.dry_run, time_limit_s=time_left))
        result = ExecutionResult(plan_id=plan.plan_id, plan_digest=plan.digest(), alert_id=plan.alert_id,
                                 dry_run=request.dry_run, outcomes=tuple(outcomes))
        logger.info("executor plan dry_run=%s actions=%d statuses=%s", request.dry_run, len(outcomes),
                    ",".join(outcome.status.value for outcome in outcomes))
        return result


def build_executor(aws: AwsExecutorSettings, runner: RunnerSettings, *,
                   clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> PlanExecutor:
    """The executor with both plug-ins, from their settings sections."""
    return PlanExecutor({PluginName.AWS: AwsExecutor(aws, clock=clock),
                         PluginName.RUNNER: RunnerExecutor(runner, clock=clock)}, clock=clock)
