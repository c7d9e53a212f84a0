"""The AWS plug-in of the sandboxed executor: one botocore operation per action, in a child process.

:class:`AwsExecutor` implements :class:`processors.remediation.execution.ActionPlugin`. For each
action it

1. refuses anything but an ``AWS_API`` action whose ``service``/``operation`` is in
   :data:`connectors.aws.operations.REGISTRY` and whose parameters change its declared target
   resource (before any process starts);
2. takes the credentials (settings, or the credentials file read now) and refuses long-lived ones
   unless the settings allow them;
3. starts ``python -I -m connectors.aws.child`` (:func:`connectors.sandbox.run_child`) with only the
   variables in :data:`CHILD_VARIABLES` (credentials, region, no profiles, no instance metadata),
   the job on stdin, and a time limit that kills it;
4. turns the child's result line into an :class:`ActionOutcome` (which redacts the output and message itself).

Dry run is the default of :class:`~processors.remediation.execution.ExecutionRequest`; what a dry
run does per operation is the registry's business (EC2's own ``DryRun``, else the current state read).
"""

from __future__ import annotations

import configparser
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from connectors.aws.operations import supported
from connectors.aws.settings import AwsExecutorSettings
from connectors.sandbox import ChildRun, run_child
from processors.remediation.execution import ActionOutcome, ActionStatus
from processors.remediation.plan import ActionKind, PlannedAction

__all__ = ["CHILD_VARIABLES", "DEFAULT_CHILD_COMMAND", "AwsCredentials", "AwsExecutor", "CredentialsError",
           "child_environment", "resolve_credentials"]

logger = logging.getLogger(__name__)

#: Every variable the child may see; nothing else of the parent's environment reaches it.
CHILD_VARIABLES = frozenset({
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "LANG",
})
#: The child program: the interpreter running Prismaflow, isolated (-I: no PYTHON* variables, no user
#: site, no current folder on the import path).
DEFAULT_CHILD_COMMAND: tuple[str, ...] = (sys.executable, "-I", "-m", "connectors.aws.child")


@dataclass(frozen=True)
class AwsCredentials:
    """One set of AWS credentials; ``session_token`` is empty for long-lived keys."""

    access_key_id: SecretStr
    secret_access_key: SecretStr
    session_token: SecretStr | None = None


class CredentialsError(Exception):
    """No usable credentials (missing, unreadable, or long-lived where short-lived ones are required)."""


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def resolve_credentials(settings: AwsExecutorSettings) -> AwsCredentials:
    """The credentials to run with now: the credentials file's profile when set, else the settings'.

    Raises :class:`CredentialsError` naming what is missing (never a value).
    """
    if settings.credentials_file is not None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            read = parser.read(settings.credentials_file, encoding="utf-8")
        except (OSError, configparser.Error) as exc:
            raise CredentialsError(f"credentials file unreadable: {type(exc).__name__}") from None
        if not read or not parser.has_section(settings.credentials_profile):
            raise CredentialsError(f"credentials file lacks profile {settings.credentials_profile!r}")
        profile = parser[settings.credentials_profile]
        key_id, secret = _secret(profile.get("aws_access_key_id")), _secret(profile.get("aws_secret_access_key"))
        token = _secret(profile.get("aws_session_token"))
    else:
        key_id, secret, token = settings.access_key_id, settings.secret_access_key, settings.session_token
    if key_id is None or secret is None:
        raise CredentialsError("no AWS credentials configured (PRISMAFLOW_AWS_ACCESS_KEY_ID / "
                               "PRISMAFLOW_AWS_SECRET_ACCESS_KEY or PRISMAFLOW_AWS_CREDENTIALS_FILE)")
    if settings.require_session_token and token is None:
        raise CredentialsError("long-lived credentials refused: a session token is required "
                               "(PRISMAFLOW_AWS_REQUIRE_SESSION_TOKEN=false allows them)")
    return AwsCredentials(key_id, secret, token)


def child_environment(credentials: AwsCredentials, region: str) -> dict[str, str]:
    """The child's whole environment: credentials, region, and no other source of credentials."""
    env = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id.get_secret_value(),
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key.get_secret_value(),
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",  # never fall back to the host's instance role
        "AWS_CONFIG_FILE": "/dev/null",  # never read a profile of the host
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "LANG": "C.UTF-8",
    }
    if credentials.session_token is not None:
        env["AWS_SESSION_TOKEN"] = credentials.session_token.get_secret_value()
    return env


class AwsExecutor:
    """Runs ``AWS_API`` actions through boto3 in a sandboxed child (see module doc).

    ``child_command`` and ``clock`` are test seams: a test may run another program with the same
    environment and time limit (one that reports its environment, or one that hangs).
    """

    def __init__(self, settings: AwsExecutorSettings, *, child_command: Sequence[str] = DEFAULT_CHILD_COMMAND,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._settings = settings
        self._command = tuple(child_command)
        self._clock = clock

    def run(self, action: PlannedAction, *, index: int, dry_run: bool, time_limit_s: float) -> ActionOutcome:
        """Run or check ``action`` (see module doc); a refusal or failure is reported, never raised."""
        started = self._clock()
        name = f"{action.service}:{action.operation}"

        def outcome(status: ActionStatus, output: dict[str, Any] | None = None, error_class: str = "",
                    message: str = "") -> ActionOutcome:
            return ActionOutcome(index=index, kind=action.kind, target_resource=action.target_resource, operation=name,
                                 status=status, output=output or {}, error_class=error_class,
                                 error_message=message, started_at=started, ended_at=self._clock())

        if action.kind is not ActionKind.AWS_API:
            return outcome(ActionStatus.FAILED, error_class="WrongPlugin",
                           message=f"the AWS plug-in runs aws_api actions, not {action.kind.value}")
        plugin = supported(action.service, action.operation)
        if plugin is None:
            return outcome(ActionStatus.FAILED, error_class="UnsupportedOperation",
                           message=f"{name} is not in the executor's registry of supported operations")
        if not plugin.targets(action.parameters, action.target_resource):
            return outcome(ActionStatus.FAILED, error_class="TargetMismatch",
                           message=f"{plugin.target_parameter} does not name the action's target resource")
        try:
            credentials = resolve_credentials(self._settings)
        except CredentialsError as exc:
            return outcome(ActionStatus.FAILED, error_class="CredentialsRefused", message=str(exc))
        region = action.region or self._settings.region
        job = {"service": action.service, "operation": action.operation, "parameters": action.parameters,
               "region": region, "endpoint_url": self._settings.endpoint_url, "dry_run": dry_run,
               "timeout_s": self._settings.request_timeout_s}
        limit = min(time_limit_s, self._settings.action_time_limit_s)
        try:
            child = run_child(self._command, env=child_environment(credentials, region),
                              stdin=json.dumps(job).encode("utf-8"), time_limit_s=limit,
                              max_output_bytes=self._settings.max_output_bytes)
        except OSError as exc:
            return outcome(ActionStatus.FAILED, error_class="ChildNotStarted", message=str(exc))
        logger.info("aws executor action=%s dry_run=%s elapsed_s=%.2f timed_out=%s returncode=%s",
                    name, dry_run, child.elapsed_s, child.timed_out, child.returncode)
        return _outcome_of(child, limit, outcome)


def _outcome_of(child: ChildRun, limit: float, outcome: Callable[..., ActionOutcome]) -> ActionOutcome:
    """The outcome a finished (or killed) child's output says."""
    stderr = child.stderr.decode("utf-8", "replace").strip()
    extra = {"stderr": stderr[-2000:]} if stderr else {}
    if child.timed_out:
        return outcome(ActionStatus.FAILED, extra, "TimeLimitExceeded",
                       f"the action ran past its time limit of {limit:g} s; its process was killed")
    lines = child.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    if not isinstance(result, dict) or result.get("status") not in ("ok", "dry_run", "failed"):
        return outcome(ActionStatus.FAILED, extra, "ChildFailed",
                       f"the child exited with {child.returncode} without a result")
    raw_output = result.get("output")
    output: dict[str, Any] = raw_output if isinstance(raw_output, dict) else {}
    return outcome(ActionStatus(result["status"]), {**output, **extra}, str(result.get("error_class") or ""),
                   str(result.get("error_message") or ""))
