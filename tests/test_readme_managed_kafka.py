"""The README's "Connecting to a managed Kafka" examples are settings Prismaflow accepts.

Each ``sh`` block of the section is read as the environment (``KEY=value`` lines); the secret it
names in the text is given as a placeholder; the settings tree must accept the block, and where the
block names no file, librdkafka must accept the configuration it gives (a client is built).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from streams.config import load_settings
from streams.devtools.broker_security import TlsMaterial
from streams.kafka_clients import KafkaClients

README = Path(__file__).resolve().parents[1] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Connecting to a managed Kafka\n(.*?)^## ", text, re.S | re.M)
    assert match, "README lost its section 'Connecting to a managed Kafka'"
    return match.group(1)


def _blocks() -> list[dict[str, str]]:
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", _section(), re.S):
        settings: dict[str, str] = {}
        for line in body.splitlines():
            if re.match(r"[A-Z][A-Z0-9_]*=", line):
                name, _, value = shlex.split(line)[0].partition("=")
                settings[name] = value
        blocks.append(settings)
    return blocks


BLOCKS = _blocks()


def test_the_section_covers_the_managed_services_it_promises() -> None:
    section = _section()
    for service in ("Amazon MSK", "Confluent Cloud", "Strimzi", "Azure Event Hubs", "Trying it locally"):
        assert f"**{service}" in section
    assert len(BLOCKS) == 7


@pytest.mark.parametrize("block", range(len(BLOCKS)))
def test_each_example_is_accepted_as_the_settings_it_shows(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("KAFKA_", "PRISMAFLOW_SECRETS_DIR")):
            monkeypatch.delenv(name)
    example = BLOCKS[block]
    for name, value in example.items():
        monkeypatch.setenv(name, value)
    mechanism = example.get("KAFKA_SASL_MECHANISM")
    if mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):  # the text names the secret file to add
        monkeypatch.setenv("KAFKA_SASL_PASSWORD", "placeholder")
    if mechanism == "OAUTHBEARER":
        monkeypatch.setenv("KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET", "placeholder")
    kafka = load_settings().kafka
    config = kafka.client_config()
    assert config["bootstrap.servers"] == example["KAFKA_BOOTSTRAP_SERVERS"]
    assert config["security.protocol"] == example["KAFKA_SECURITY_PROTOCOL"]
    if mechanism == "OAUTHBEARER":
        assert config["sasl.oauthbearer.method"] == "oidc"
    if not any(name.endswith("_LOCATION") for name in example):
        assert KafkaClients(kafka).admin() is not None  # librdkafka knows every property it is given


def test_the_local_example_names_the_files_the_launcher_writes() -> None:
    local = BLOCKS[-1]
    material = TlsMaterial(Path(".prismaflow/broker/tls"))
    assert local["KAFKA_SSL_CA_LOCATION"] == str(material.ca_certificate)
    assert local["KAFKA_SSL_CERTIFICATE_LOCATION"] == str(material.client_certificate)
    assert local["KAFKA_SSL_KEY_LOCATION"] == str(material.client_key)
    assert str(material.client_key_password_file) in _section()
    assert str(material.scram_password_file) in _section()
