"""The AWS plug-in's sandbox: the child's environment, its time limit, and the credentials it accepts."""

from __future__ import annotations

import hashlib
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.aws.executor import CHILD_VARIABLES, AwsExecutor
from processors.remediation.execution import ActionStatus
from tests.connectors.aws.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, executor_settings
from tests.connectors.process_support import descendants, left_behind
from tests.processors.remediation.plan_factory import aws_action

BUCKET_FIX = aws_action("s3", "PutPublicAccessBlock", "payroll", {"Bucket": "payroll", "PublicAccessBlockConfiguration": {
    "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}})

# A stand-in child that reports the environment it was given, in the result format of connectors.aws.child.
REPORT_ENVIRONMENT = ("import json, os, sys; sys.stdin.read(); "
                      "print(json.dumps({'status': 'dry_run', 'output': {'env_names': sorted(os.environ), "
                      "'env': dict(os.environ)}}))")


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: a hung AWS call."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_the_child_sees_only_the_allowlisted_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_CANARY_TOKEN", "do-not-leak-0123456789")
    monkeypatch.setenv("PRISMAFLOW_JIRA_API_TOKEN", "jira-token-do-not-leak")
    monkeypatch.setenv("AWS_PROFILE", "admin")
    executor = AwsExecutor(executor_settings("http://127.0.0.1:9"),
                           child_command=(sys.executable, "-I", "-c", REPORT_ENVIRONMENT))

    outcome = executor.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=30)

    assert outcome.status is ActionStatus.DRY_RUN, outcome.error_message
    names = set(outcome.output["env_names"])
    assert names <= CHILD_VARIABLES, names - CHILD_VARIABLES
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"} <= names
    assert outcome.output["env"]["AWS_EC2_METADATA_DISABLED"] == "true"
    assert outcome.output["env"]["AWS_DEFAULT_REGION"] == "us-east-1"
    # What the executor keeps of the child's output holds no credential.
    kept = json.dumps(outcome.model_dump(mode="json"))
    assert SECRET_ACCESS_KEY not in kept and SESSION_TOKEN not in kept


def test_a_hung_call_is_killed_at_the_time_limit_and_reported_failed(silent_endpoint: str) -> None:
    executor = AwsExecutor(executor_settings(silent_endpoint, action_time_limit_s=3.0, request_timeout_s=120.0))
    before = descendants()

    outcome = executor.run(BUCKET_FIX, index=0, dry_run=False, time_limit_s=60)

    assert outcome.status is ActionStatus.FAILED and outcome.error_class == "TimeLimitExceeded"
    assert "3 s" in outcome.error_message
    assert 2.5 <= (outcome.ended_at - outcome.started_at).total_seconds() < 30
    assert left_behind(before) == set()  # the child is gone, nothing left behind


def test_the_plans_remaining_time_bounds_the_action(silent_endpoint: str) -> None:
    executor = AwsExecutor(executor_settings(silent_endpoint, action_time_limit_s=60.0, request_timeout_s=120.0))
    before = descendants()
    outcome = executor.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=2.0)
    assert outcome.error_class == "TimeLimitExceeded" and "2 s" in outcome.error_message
    assert left_behind(before) == set()


def test_long_lived_keys_are_refused_unless_allowed() -> None:
    refused = AwsExecutor(executor_settings("http://127.0.0.1:9", session_token=None))
    outcome = refused.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=30)
    assert outcome.status is ActionStatus.FAILED and outcome.error_class == "CredentialsRefused"
    assert "session token" in outcome.error_message

    allowed = AwsExecutor(executor_settings("http://127.0.0.1:9", session_token=None, require_session_token=False),
                          child_command=(sys.executable, "-I", "-c", REPORT_ENVIRONMENT))
    reported = allowed.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=30)
    assert reported.status is ActionStatus.DRY_RUN and "AWS_SESSION_TOKEN" not in reported.output["env_names"]


def test_no_credentials_is_a_clear_refusal() -> None:
    executor = AwsExecutor(executor_settings("http://127.0.0.1:9", access_key_id=None, secret_access_key=None))
    outcome = executor.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=30)
    assert outcome.error_class == "CredentialsRefused" and "PRISMAFLOW_AWS_ACCESS_KEY_ID" in outcome.error_message


def test_a_rotated_credentials_file_is_read_again_for_every_action(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    settings = executor_settings("http://127.0.0.1:9", access_key_id=None, secret_access_key=None, session_token=None,
                                 credentials_file=credentials, credentials_profile="executor")
    # The child reports a digest of the key id it got (the executor redacts the key id itself).
    executor = AwsExecutor(settings, child_command=(sys.executable, "-I", "-c", "import hashlib; " + REPORT_ENVIRONMENT.replace(
        "'env': dict(os.environ)", "'key_id': hashlib.sha256(os.environ['AWS_ACCESS_KEY_ID'].encode()).hexdigest()")))

    assert executor.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=30).error_class == "CredentialsRefused"
    for key_id in ("ASIAFIRSTSESSION0001", "ASIASECONDSESSION002"):
        credentials.write_text(f"[executor]\naws_access_key_id = {key_id}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n"
                               f"aws_session_token = {SESSION_TOKEN}\n")
        outcome = executor.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=30)
        assert outcome.status is ActionStatus.DRY_RUN
        assert outcome.output["key_id"] == hashlib.sha256(key_id.encode()).hexdigest()


def test_a_child_that_dies_without_a_result_is_a_failure_with_its_stderr() -> None:
    executor = AwsExecutor(executor_settings("http://127.0.0.1:9"), child_command=(
        sys.executable, "-I", "-c", "import sys; sys.stderr.write('boom AKIAIOSFODNN7EXAMPLE'); sys.exit(3)"))
    outcome = executor.run(BUCKET_FIX, index=0, dry_run=True, time_limit_s=30)
    assert outcome.status is ActionStatus.FAILED and outcome.error_class == "ChildFailed"
    assert "3" in outcome.error_message and "boom" in outcome.output["stderr"]
    assert "AKIAIOSFODNN7EXAMPLE" not in outcome.output["stderr"]


def test_settings_refuse_a_non_http_endpoint() -> None:
    with pytest.raises(ValueError):
        executor_settings("file:///etc/passwd")
    assert executor_settings("http://127.0.0.1:9/").endpoint_url == "http://127.0.0.1:9"
    assert ACCESS_KEY_ID.startswith("ASIA") and isinstance(executor_settings("http://x").session_token, SecretStr)
