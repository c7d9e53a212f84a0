"""``prismaflow run remediate|execute`` build their stages from the settings tree, on the prefixed topics,
and refuse to start without what they cannot work without."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.errors import ConfigurationError
from tests.audit_keys import TEST_SIGNER
from streams.config import load_settings
from streams.remediation.executor_stage import ExecutorStage
from streams.remediation.request_stage import RemediationRequestStage
from streams.remediation.workers import build_remediation_worker
from streams.serde import AvroSerde
from streams.settings import KafkaSettings

pytestmark = pytest.mark.broker


@pytest.fixture
def environment(kafka: KafkaSettings, catalogue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", catalogue)
    (tmp_path / "prismaflow_console_link_secret").write_text("console-link-secret-0123456789\n")
    (tmp_path / "prismaflow_audit_signing_key").write_text(TEST_SIGNER.secret_text() + "\n")  # both stages audit
    return tmp_path


def test_both_stages_are_built_on_the_prefixed_topics(environment: Path, catalogue: str) -> None:
    (environment / "prismaflow_remediation_signing_key").write_text("remediation-signing-key-0123\n")
    settings = load_settings()
    remediate = build_remediation_worker("remediate", settings, AvroSerde())
    execute = build_remediation_worker("execute", settings, AvroSerde())
    assert isinstance(remediate.stage, RemediationRequestStage) and isinstance(execute.stage, ExecutorStage)
    assert remediate.stage.input_topic == catalogue + "prisma.alerts.scored"
    assert remediate.stage.requests_topic == catalogue + "prisma.remediations"
    # CIEM: the permission search and the IAM policy linter are wired in.
    assert remediate.stage.permissions is not None and remediate.stage.ports.iam_linter is not None
    assert execute.stage.input_topic == catalogue + "prisma.remediations.decisions"
    assert execute.stage.dry_run and "k1" in execute.stage.keys  # issue 13: dry run by default
    assert remediate.options.group_id.endswith(".remediate") and execute.options.group_id.endswith(".execute")
    for built in (remediate, execute):
        built.close()


def test_the_executor_applies_fixes_only_when_dry_run_is_turned_off(environment: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (environment / "prismaflow_remediation_signing_key").write_text("remediation-signing-key-0123\n")
    monkeypatch.setenv("PRISMAFLOW_REMEDIATION_DRY_RUN", "false")
    execute = build_remediation_worker("execute", load_settings(), AvroSerde())
    try:
        assert isinstance(execute.stage, ExecutorStage) and not execute.stage.dry_run
    finally:
        execute.close()


def test_the_executor_does_not_start_without_the_decision_key(environment: Path) -> None:
    with pytest.raises(ConfigurationError, match="PRISMAFLOW_REMEDIATION_SIGNING_KEY"):
        build_remediation_worker("execute", load_settings(), AvroSerde())
