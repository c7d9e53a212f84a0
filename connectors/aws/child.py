"""The child program that runs one AWS action: ``python -I -m connectors.aws.child`` (job on stdin).

Started by :class:`connectors.aws.executor.AwsExecutor` in a process of its own, with an environment
that holds only the AWS variables it needs (credentials, region, and settings that stop boto3 from
reading profiles or the instance metadata service), so a bug or a hostile parameter in one action
cannot reach the parent's secrets. It reads one JSON job from stdin::

    {"service": "s3", "operation": "PutPublicAccessBlock", "parameters": {...}, "region": "us-east-1",
     "endpoint_url": null, "dry_run": true, "timeout_s": 20}

checks the operation against :data:`connectors.aws.operations.REGISTRY`, calls it through a boto3
client (``getattr(client, xform_name(operation))(**parameters)``) and writes one JSON line to stdout:
``{"status": "ok"|"dry_run"|"failed", "output": {...}, "error_class": "", "error_message": ""}``.
The parent redacts the output; this program never prints a credential (it never reads one itself:
boto3 takes them from the environment).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from connectors.aws.operations import supported

__all__ = ["main", "run_job"]


def _failure(error_class: str, message: str, output: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"status": "failed", "output": dict(output or {}), "error_class": error_class, "error_message": message}


def _error_code(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return str(error.get("Code") or "ClientError"), str(error.get("Message") or exc)
    return type(exc).__name__, str(exc)


def run_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """Run one job (see module doc) and return the result line's content. Never raises."""
    service, operation = str(job.get("service", "")), str(job.get("operation", ""))
    parameters = job.get("parameters") or {}
    plugin = supported(service, operation)
    if plugin is None or not isinstance(parameters, dict):
        return _failure("UnsupportedOperation", f"{service}:{operation} is not an operation the executor runs")
    timeout = float(job.get("timeout_s") or 20.0)
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"})
    called = {"service": service, "operation": operation, "parameters": parameters}
    try:
        client = boto3.session.Session(region_name=str(job["region"])).client(
            service, endpoint_url=job.get("endpoint_url") or None, config=config)
        if operation not in client.meta.service_model.operation_names:
            return _failure("UnsupportedOperation", f"botocore has no {service}:{operation}")
        call = getattr(client, xform_name(operation))
        before = plugin.read_state(client, parameters)
        if job.get("dry_run", True):
            return _dry_run(call, plugin.native_dry_run, parameters, called, before)
        response = call(**parameters)
        after = plugin.read_state(client, parameters)
    except (ClientError, BotoCoreError, KeyError, IndexError) as exc:
        error_class, message = _error_code(exc)
        return _failure(error_class, message, {"would_call" if job.get("dry_run", True) else "called": called})
    return {"status": "ok", "error_class": "", "error_message": "",
            "output": {"called": called, "response": {k: v for k, v in response.items() if k != "ResponseMetadata"},
                       "state_before": before, "state_after": after}}


def _dry_run(call: Any, native: bool, parameters: Mapping[str, Any], called: Mapping[str, Any],
             before: Mapping[str, Any]) -> dict[str, Any]:
    """Check without changing: the API's own DryRun where it has one, else report what would be called."""
    output: dict[str, Any] = {"would_call": dict(called), "current_state": dict(before)}
    if not native:
        output["dry_run_check"] = "not available for this API: current state read, nothing called"
        return {"status": "dry_run", "output": output, "error_class": "", "error_message": ""}
    try:
        call(**parameters, DryRun=True)
    except ClientError as exc:
        code, message = _error_code(exc)
        if code == "DryRunOperation":
            output["dry_run_check"] = f"{code}: {message}"
            return {"status": "dry_run", "output": output, "error_class": "", "error_message": ""}
        return _failure(code, message, output)
    # The API accepted the call although DryRun was set: it may have changed something. Say so loudly.
    return _failure("DryRunIgnored", "the API answered a DryRun call without DryRunOperation", output)


def main() -> int:
    """Read the job from stdin, write the result line to stdout; exit 0 unless the job could not be read."""
    try:
        job = json.loads(sys.stdin.read())
        if not isinstance(job, dict):
            raise ValueError("the job is not a JSON object")
    except ValueError as exc:
        print(json.dumps(_failure("BadJob", str(exc))))
        return 2
    print(json.dumps(run_job(job), default=str, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
