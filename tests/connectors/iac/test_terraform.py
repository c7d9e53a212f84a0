"""python-hcl2 parses snippets in-process; Checkov runs offline, as a subprocess, from its own virtualenv."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from connectors.iac.terraform import CheckovError, HclTerraformChecker, TerraformCheckerSettings

CHECKOV = Path(__file__).resolve().parents[3] / ".venv-checkov" / "bin" / "checkov"
EBS_OFF = 'resource "aws_ebs_encryption_by_default" "this" {\n  enabled = false\n}\n'


@pytest.fixture(scope="module")
def checker() -> HclTerraformChecker:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make install`"
    return HclTerraformChecker(TerraformCheckerSettings(checkov=str(CHECKOV)))


def test_blocks_are_read_with_labels_and_string_attributes_unquoted(checker: HclTerraformChecker) -> None:
    snippet = ('resource "aws_s3_bucket_public_access_block" "this" {\n  bucket = "payroll"\n'
               "  block_public_acls = true\n}\n"
               'data "aws_caller_identity" "me" {}\n')
    assert checker.parse_errors(snippet) == ()
    resource, data = checker.blocks(snippet)
    assert (resource.block, resource.type, resource.name) == ("resource", "aws_s3_bucket_public_access_block", "this")
    assert resource.attributes == {"bucket": "payroll", "block_public_acls": True}
    assert (data.block, data.type) == ("data", "aws_caller_identity")


def test_a_syntax_error_is_reported_with_its_position(checker: HclTerraformChecker) -> None:
    [error] = checker.parse_errors('resource "x" "y" {\n  a = \n}\n')
    assert "line" in error


def test_checkov_reports_the_failed_check_and_passes_the_fixed_snippet(checker: HclTerraformChecker) -> None:
    [finding] = checker.failed_checks(EBS_OFF, ["CKV_AWS_106"])
    assert (finding.check_id, finding.resource) == ("CKV_AWS_106", "aws_ebs_encryption_by_default.this")
    assert "EBS default encryption" in finding.message
    assert checker.failed_checks(EBS_OFF.replace("false", "true"), ["CKV_AWS_106"]) == ()


def test_checkov_runs_offline_with_a_minimal_environment() -> None:
    seen: dict[str, object] = {}

    def run(argv: Sequence[str], env: Mapping[str, str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        seen.update(argv=list(argv), env=dict(env), timeout=timeout_s)
        return subprocess.CompletedProcess(list(argv), 0, stdout='{"check_type": "terraform", "results": '
                                           '{"failed_checks": []}}', stderr="")

    HclTerraformChecker(TerraformCheckerSettings(checkov="ck", timeout_s=30), run=run).failed_checks(
        EBS_OFF, ["CKV_AWS_106"])
    argv = seen["argv"]
    assert isinstance(argv, list) and argv[0] == "ck" and "--skip-download" in argv and "CKV_AWS_106" in argv
    env = seen["env"]
    assert isinstance(env, dict) and env["BC_SKIP_MAPPING"] == "TRUE"
    assert not {k for k in env if k.startswith("AWS_") or "KEY" in k or "TOKEN" in k}
    assert seen["timeout"] == 30


@pytest.mark.parametrize(("completed", "message"), [
    (subprocess.CompletedProcess([], 2, stdout="", stderr="boom"), "checkov exited 2: boom"),
    (subprocess.CompletedProcess([], 0, stdout="not json", stderr=""), "checkov output is not JSON"),
])
def test_a_checkov_that_fails_or_talks_nonsense_raises(completed: subprocess.CompletedProcess[str], message: str) -> None:
    checker = HclTerraformChecker(run=lambda argv, env, timeout: completed)
    with pytest.raises(CheckovError, match=message):
        checker.failed_checks(EBS_OFF, ["CKV_AWS_106"])


def test_a_missing_checkov_raises_our_error() -> None:
    checker = HclTerraformChecker(TerraformCheckerSettings(checkov="/nonexistent/checkov"))
    with pytest.raises(CheckovError, match="checkov could not run"):
        checker.failed_checks(EBS_OFF, ["CKV_AWS_106"])
