"""The child program's own checks: a DryRun the API ignored, a job it cannot read."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from connectors.aws import child


def test_an_api_that_answers_a_dry_run_call_normally_is_reported_as_a_failure() -> None:
    calls: list[dict[str, Any]] = []

    def ignores_dry_run(**parameters: Any) -> dict[str, Any]:
        calls.append(parameters)
        return {"Return": True}

    result = child._dry_run(ignores_dry_run, True, {"GroupId": "sg-1"}, {"operation": "RevokeSecurityGroupIngress"}, {})
    assert result["status"] == "failed" and result["error_class"] == "DryRunIgnored"
    assert calls == [{"GroupId": "sg-1", "DryRun": True}]


def test_a_dry_run_refused_for_permissions_is_a_failure_with_aws_code() -> None:
    def unauthorized(**parameters: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "RevokeSecurityGroupIngress")

    result = child._dry_run(unauthorized, True, {}, {}, {})
    assert (result["status"], result["error_class"]) == ("failed", "UnauthorizedOperation")


@pytest.mark.parametrize("stdin", ["not json", "[1, 2]"])
def test_a_job_that_is_not_a_json_object_is_refused(stdin: str, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert child.main() == 2
    assert json.loads(capsys.readouterr().out)["error_class"] == "BadJob"
