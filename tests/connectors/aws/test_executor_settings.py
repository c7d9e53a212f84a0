"""The executor's settings come from the settings tree: the environment and the secrets folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.aws.executor import resolve_credentials
from processors.errors import ConfigurationError
from streams.config import load_settings


def test_short_lived_credentials_come_from_the_secrets_folder_and_the_endpoint_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    for name in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "ENDPOINT_URL"):
        monkeypatch.delenv(f"PRISMAFLOW_AWS_{name}", raising=False)
    (tmp_path / "prismaflow_aws_access_key_id").write_text("ASIAFROMSECRETSFILE1\n")
    (tmp_path / "prismaflow_aws_secret_access_key").write_text("secret-from-a-file\n")
    (tmp_path / "prismaflow_aws_session_token").write_text("token-from-a-file\n")
    monkeypatch.setenv("PRISMAFLOW_AWS_ENDPOINT_URL", "http://127.0.0.1:5000/")
    monkeypatch.setenv("PRISMAFLOW_RUNNER_AZURE_COMMAND", '["/opt/runner/az"]')

    settings = load_settings()

    assert settings.aws_executor.endpoint_url == "http://127.0.0.1:5000"
    credentials = resolve_credentials(settings.aws_executor)
    assert credentials.access_key_id.get_secret_value() == "ASIAFROMSECRETSFILE1"
    assert credentials.session_token is not None and credentials.session_token.get_secret_value() == "token-from-a-file"
    assert "secret-from-a-file" not in repr(settings)
    assert settings.runner.azure_command == '["/opt/runner/az"]' and settings.runner.gcloud_command is None


def test_a_runner_command_that_is_shell_text_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISMAFLOW_RUNNER_GCLOUD_COMMAND", "gcloud && curl evil")
    with pytest.raises(ConfigurationError, match="PRISMAFLOW_RUNNER_GCLOUD_COMMAND"):
        load_settings()
