"""The executor's port: what is asked of it (:class:`ExecutionRequest`), what it reports
(:class:`ExecutionResult`), and which plug-in runs which kind of action.

The executor itself lives in :mod:`connectors` (boto3 for AWS, a configured runner for Azure and
GCP); this module holds the pure parts every implementation and every caller shares:

* :class:`ExecutionRequest`: one approved plan, whether to run it for real (``dry_run`` is the
  default: nothing changes unless a caller says so) and the time the whole plan may take;
* :class:`ActionOutcome` per action: ``ok``, ``failed``, ``skipped`` or ``dry_run``, the captured
  output (already redacted: no credentials), the error class and message, and when it started and
  ended;
* :func:`plugin_for`: the rule that maps an :class:`~processors.remediation.plan.ActionKind` to the
  plug-in that may run it (Terraform is never run: the owner's pipeline applies it);
* :func:`step_decision`: whether the next action runs, given what happened before (after a failure
  the rest of the plan is skipped: a half-applied fix is reported, never pushed further);
* :class:`ActionPlugin`: the Protocol a plug-in implements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from processors.redaction import redact_data, redact_text
from processors.remediation.plan import ActionKind, PlannedAction, RemediationPlan

__all__ = [
    "ActionOutcome",
    "ActionPlugin",
    "ActionStatus",
    "ExecutionRequest",
    "ExecutionResult",
    "PluginName",
    "StepDecision",
    "clean_output",
    "clean_text",
    "plugin_for",
    "step_decision",
]

#: How long one message or output text may be once captured (longer ones are cut, marked).
MAX_TEXT_CHARS = 4000


class ActionStatus(str, Enum):
    """What became of one action."""

    OK = "ok"  # ran for real and succeeded
    FAILED = "failed"  # ran (or was refused) and did not succeed
    SKIPPED = "skipped"  # not run: an earlier action failed, or the kind is never run (Terraform)
    DRY_RUN = "dry_run"  # checked without changing anything (EC2 DryRun, or the current state read)


class PluginName(str, Enum):
    """The executor plug-ins."""

    AWS = "aws"  # boto3, one botocore operation per action
    RUNNER = "runner"  # a configured runner command for az / gcloud argument vectors


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExecutionRequest(_Value):
    """Run ``plan``: for real only when ``dry_run`` is False, within ``time_limit_s`` in all."""

    plan: RemediationPlan
    dry_run: bool = Field(default=True, description="Check only; nothing changes (the default)")
    time_limit_s: float = Field(default=120.0, gt=0, le=3600, description="Time the whole plan may take")
    approved_digest: str = Field(
        default="", description="The plan digest the approval signed; when set, the plan runs only if its "
                                "digest is still this one")

    @property
    def digest_matches(self) -> bool:
        """False when an approved digest is given and the plan's own digest differs from it."""
        return not self.approved_digest or self.approved_digest == self.plan.digest()


class ActionOutcome(_Value):
    """What one action did. ``output`` and ``error_message`` are redacted and cut on construction
    (:func:`clean_output`, :func:`clean_text`): never a credential, never an unbounded text."""

    index: int = Field(ge=0, description="Position of the action in the plan")
    kind: ActionKind
    target_resource: str
    operation: str = Field(default="", description="service:Operation for AWS, the program for the runner")
    status: ActionStatus
    output: dict[str, Any] = Field(default_factory=dict)
    error_class: str = ""
    error_message: str = ""
    started_at: datetime
    ended_at: datetime

    @field_validator("output")
    @classmethod
    def _clean_output(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Whatever a plug-in captured, an outcome never holds a credential or an unbounded text.
        cleaned: dict[str, Any] = clean_output(value)
        return cleaned

    @field_validator("error_message")
    @classmethod
    def _clean_message(cls, value: str) -> str:
        return clean_text(value)


class ExecutionResult(_Value):
    """Every action's outcome for one plan, in plan order."""

    plan_id: str
    plan_digest: str = Field(description="RemediationPlan.digest() of the plan that ran")
    alert_id: str
    dry_run: bool
    outcomes: tuple[ActionOutcome, ...]

    @property
    def succeeded(self) -> bool:
        """True when no action failed and at least one ran or was checked (Terraform alone is skipped)."""
        statuses = {outcome.status for outcome in self.outcomes}
        return ActionStatus.FAILED not in statuses and bool(statuses & {ActionStatus.OK, ActionStatus.DRY_RUN})

    @property
    def changed_something(self) -> bool:
        """True when at least one action ran for real and succeeded."""
        return any(outcome.status is ActionStatus.OK for outcome in self.outcomes)

    @property
    def first_failure(self) -> ActionOutcome | None:
        """The first failed action, if any."""
        return next((outcome for outcome in self.outcomes if outcome.status is ActionStatus.FAILED), None)


class ActionPlugin(Protocol):
    """Runs one action of one kind. Implementations never raise for a failed action: they report it."""

    def run(self, action: PlannedAction, *, index: int, dry_run: bool, time_limit_s: float) -> ActionOutcome:
        """Run (or, with ``dry_run``, check) ``action``; stop it after ``time_limit_s``."""
        ...


_PLUGINS: dict[ActionKind, PluginName | None] = {
    ActionKind.AWS_API: PluginName.AWS,
    ActionKind.AZURE_CLI: PluginName.RUNNER,
    ActionKind.GCLOUD_CLI: PluginName.RUNNER,
    ActionKind.TERRAFORM: None,
}


def plugin_for(kind: ActionKind) -> PluginName | None:
    """The plug-in that runs actions of ``kind``; None for a kind the executor never runs (Terraform)."""
    return _PLUGINS[kind]


class StepDecision(str, Enum):
    """What the executor does with the next action."""

    RUN = "run"
    SKIP_AFTER_FAILURE = "skip_after_failure"
    SKIP_NOT_EXECUTABLE = "skip_not_executable"
    SKIP_OUT_OF_TIME = "skip_out_of_time"
    REFUSE_DIGEST_MISMATCH = "refuse_digest_mismatch"


def step_decision(action: PlannedAction, previous: Sequence[ActionOutcome], time_left_s: float) -> StepDecision:
    """Whether ``action`` runs after ``previous`` with ``time_left_s`` of the plan's time limit left."""
    if any(outcome.status is ActionStatus.FAILED for outcome in previous):
        return StepDecision.SKIP_AFTER_FAILURE
    if plugin_for(action.kind) is None:
        return StepDecision.SKIP_NOT_EXECUTABLE
    if time_left_s <= 0:
        return StepDecision.SKIP_OUT_OF_TIME
    return StepDecision.RUN


def clean_output(value: Any) -> Any:
    """``value`` as it may be kept: secrets redacted, long texts cut to :data:`MAX_TEXT_CHARS`."""
    return _cut(redact_data(value))


def clean_text(text: str) -> str:
    """One message as it may be kept: secrets redacted, cut to :data:`MAX_TEXT_CHARS`."""
    return str(_cut(redact_text(text)))


def _cut(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT_CHARS else value[:MAX_TEXT_CHARS] + f"…[{len(value)} chars]"
    if isinstance(value, dict):
        return {str(key): _cut(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_cut(item) for item in value]
    return value
