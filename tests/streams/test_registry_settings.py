"""The registry section of the settings, and the subject every record is registered under."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from pydantic import SecretStr, ValidationError

from processors.errors import ConfigurationError
from streams.config import PrismaflowSettings
from streams.serde import AvroSerde, SerdeSettings
from streams.settings import SchemaRegistrySettings
from streams.subjects import catalogue_subjects, subject_for
from streams.topics import CATALOGUE
from tests.factories import FACTORIES


def test_producers_do_not_register_schemas_unless_told_to_and_subjects_are_backward_compatible() -> None:
    settings = SchemaRegistrySettings()

    assert settings.auto_register is False
    assert settings.compatibility == "BACKWARD"


def test_the_registry_client_gets_tls_and_basic_auth_from_the_settings() -> None:
    settings = SchemaRegistrySettings(
        url="https://registry.example:8081", basic_auth_user_info=SecretStr("svc:pw"),
        ssl_ca_location="/etc/ca.pem", ssl_certificate_location="/etc/client.pem",
        ssl_key_location="/etc/client.key", ssl_key_password=SecretStr("keypw"))

    assert settings.client_config() == {
        "url": "https://registry.example:8081", "basic.auth.user.info": "svc:pw", "ssl.ca.location": "/etc/ca.pem",
        "ssl.certificate.location": "/etc/client.pem", "ssl.key.location": "/etc/client.key",
        "ssl.key.password": "keypw"}
    assert SchemaRegistrySettings(url="http://r:8081").client_config() == {"url": "http://r:8081"}


def test_a_client_key_without_its_certificate_is_refused() -> None:
    with pytest.raises(ValidationError, match="SCHEMA_REGISTRY_SSL_CERTIFICATE_LOCATION"):
        SchemaRegistrySettings(url="https://r", ssl_key_location="/etc/client.key")


def test_only_the_backward_safe_compatibility_levels_are_accepted() -> None:
    assert SchemaRegistrySettings(compatibility="FULL").compatibility == "FULL"
    with pytest.raises(ValidationError):
        SchemaRegistrySettings(compatibility="NONE")  # type: ignore[arg-type]


def test_the_settings_tree_reads_the_registry_section_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", "https://registry.example")
    monkeypatch.setenv("SCHEMA_REGISTRY_AUTO_REGISTER", "true")
    monkeypatch.setenv("SCHEMA_REGISTRY_COMPATIBILITY", "FULL")
    monkeypatch.setenv("SCHEMA_REGISTRY_SSL_CA_LOCATION", "/etc/ca.pem")

    registry = PrismaflowSettings().schema_registry

    assert (registry.url, registry.auto_register, registry.compatibility, registry.ssl_ca_location) == (
        "https://registry.example", True, "FULL", "/etc/ca.pem")


def test_a_topic_record_is_under_topic_value_and_another_record_on_a_catalogue_topic_under_its_full_name() -> None:
    assert subject_for("prisma.alerts.scored", "ScoredAlert") == "prisma.alerts.scored-value"
    assert subject_for("t.x.prisma.alerts", "Alert") == "t.x.prisma.alerts-value"
    assert subject_for("prisma.alerts.raw", "AssetLink") == "prisma.alerts.raw-io.prismaflow.AssetLink"
    assert subject_for("someone.elses.topic", "Alert") == "someone.elses.topic-value"


def test_every_catalogue_topic_has_its_value_subject_once() -> None:
    names = [subject.name for subject in catalogue_subjects("p.")]

    assert len(names) == len(set(names)) == len(CATALOGUE) + 1
    assert {f"p.{spec.name}-value" for spec in CATALOGUE} < set(names)


def test_an_unregistered_schema_stops_a_producer_without_auto_register_instead_of_dead_lettering() -> None:
    registry = SchemaRegistryClient.new_client({"url": "mock://unregistered"})
    serde = AvroSerde(SerdeSettings(), registry=registry)

    with pytest.raises(ConfigurationError, match=r"prisma\.alerts-value.*prismaflow schemas register"):
        serde.encode(FACTORIES["Alert"](), topic="prisma.alerts")
