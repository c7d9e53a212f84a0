"""Settings come from the environment or from a secrets folder; unknown settings are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.settings import KafkaSettings
from streams.sources import PrismaConnectionSettings


def test_a_secret_can_come_from_a_file_in_the_secrets_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prismaflow_prisma_secret_key").write_text("from-a-file\n")
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("PRISMAFLOW_PRISMA_SECRET_KEY", raising=False)
    settings = PrismaConnectionSettings()
    assert settings.secret_key.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(settings)  # never printed


def test_the_environment_wins_over_the_secrets_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prismaflow_prisma_secret_key").write_text("from-a-file")
    monkeypatch.setenv("PRISMAFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("PRISMAFLOW_PRISMA_SECRET_KEY", "from-env")
    assert PrismaConnectionSettings().secret_key.get_secret_value() == "from-env"


def test_kafka_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    settings = KafkaSettings()
    assert settings.client_config()["bootstrap.servers"] == "kafka-1:9092,kafka-2:9092"
    assert settings.client_config()["sasl.password"] == "s3cret"
    assert "s3cret" not in repr(settings)


def test_unknown_settings_are_rejected() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(bootstrap_server="typo:9092")  # type: ignore[call-arg]
