"""The Kafka, Schema Registry and local-broker sections of the settings tree.

These are plain models: none reads the environment itself. :class:`streams.config.PrismaflowSettings`
is the one root that holds them (as ``kafka``, ``schema_registry``, ``broker``) with every other
component's section and fills them from the environment and the secrets folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from streams.kafka_logging import KAFKA_LOGGER

__all__ = [
    "KafkaSettings",
    "SchemaRegistrySettings",
    "BrokerSettings",
    "SettingsSection",
    "default_home",
]


def default_home() -> Path:
    """Where Prismaflow keeps local state (broker data, jar cache, logs): ``PRISMAFLOW_HOME`` or
    ``./.prismaflow``."""
    return Path(os.environ.get("PRISMAFLOW_HOME", ".prismaflow")).resolve()


class SettingsSection(BaseModel):
    """Base of a section of the settings tree: unknown keys are rejected, values are immutable, and a
    validation error names the setting and the rule but never echoes the value (it may be a secret)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class KafkaSettings(SettingsSection):
    """How every worker reaches Kafka."""

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers"
    )
    security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: str | None = Field(default=None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    sasl_username: str | None = Field(default=None, description="SASL user name")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (secret)")
    ssl_ca_location: str | None = Field(default=None, description="CA bundle for SSL listeners")
    client_id: str = Field(default="prismaflow", description="Client id prefix seen by the broker")
    topic_replication_factor: int = Field(
        default=1, ge=1, description="Replication factor used by `prismaflow topics create`"
    )
    config: dict[str, str] = Field(
        default={},
        description="Passthrough of any librdkafka property to every client, set as one `KAFKA_CONFIG__<PROPERTY>` "
                    "variable each: `KAFKA_CONFIG__SSL_CA_LOCATION` sets `ssl.ca.location` (lower case, `_` read as "
                    "`.`); applied last, over Prismaflow's own settings and the file (streams/kafka_clients.py)")
    config_file: Path | None = Field(
        default=None,
        description="Java-properties file of librdkafka properties for every client, applied over "
                    "Prismaflow's own settings and under `KAFKA_CONFIG__*`")

    def client_config(self) -> dict[str, Any]:
        """The librdkafka configuration common to producers, consumers and admin clients.

        ``logger`` routes librdkafka's own log lines through Python logging, once per interval each
        (:mod:`streams.kafka_logging`).
        """
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "client.id": self.client_id,
            "logger": KAFKA_LOGGER,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config


class SchemaRegistrySettings(SettingsSection):
    """Where Avro schemas are registered, and how Prismaflow treats them there.

    Without a URL, records carry Avro single-object encoding. With one, producers write the Confluent
    wire format and every client (serde, ``prismaflow schemas``) talks to the registry over the same
    TLS and auth settings. Schemas are registered by ``prismaflow schemas register`` before a deploy;
    ``auto_register`` lets producers register them themselves, which only the demo and local
    development should do (a producer could otherwise publish a schema nobody reviewed).
    """

    url: str | None = Field(
        default=None,
        description="Confluent-compatible Schema Registry URL; unset means single-object encoding",
    )
    basic_auth_user_info: SecretStr | None = Field(
        default=None, description="user:password for the registry (secret)"
    )
    ssl_ca_location: str | None = Field(
        default=None,
        description="CA bundle (PEM file or folder) that verifies the registry's TLS certificate; "
                    "unset: the system's trust store",
    )
    ssl_certificate_location: str | None = Field(
        default=None, description="Client certificate (PEM) for a registry that asks for mutual TLS",
    )
    ssl_key_location: str | None = Field(
        default=None, description="Private key (PEM) of the client certificate; needs the certificate",
    )
    ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of the client key, if it is encrypted (secret)",
    )
    auto_register: bool = Field(
        default=False,
        description="Let producers register the schemas they write (local work only). Off: schemas come from "
                    "`prismaflow schemas register`, and a producer whose schema is not registered stops",
    )
    compatibility: Literal["BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"] = Field(
        default="BACKWARD",
        description="Compatibility level `prismaflow schemas register` sets on every subject: BACKWARD "
                    "(consumers upgrade first) or FULL (either side first); _TRANSITIVE checks every version",
    )

    @model_validator(mode="after")
    def _key_needs_certificate(self) -> SchemaRegistrySettings:
        if (self.ssl_key_location or self.ssl_key_password) and not self.ssl_certificate_location:
            raise ValueError("a client key for the schema registry needs SCHEMA_REGISTRY_SSL_CERTIFICATE_LOCATION")
        return self

    def client_config(self) -> dict[str, str]:
        """The ``SchemaRegistryClient`` configuration (secrets included); requires :attr:`url`."""
        if self.url is None:
            raise ValueError("no schema registry URL configured (SCHEMA_REGISTRY_URL)")
        config = {"url": self.url}
        optional = {
            "basic.auth.user.info": self.basic_auth_user_info,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
        }
        for key, value in optional.items():
            if isinstance(value, SecretStr):
                config[key] = value.get_secret_value()
            elif value:
                config[key] = value
        return config


class BrokerSettings(SettingsSection):
    """The local Kafka broker that `prismaflow broker start` runs for development, demo and tests."""

    home: Path = Field(
        default_factory=lambda: default_home() / "broker",
        description="Folder for the broker's data, configuration, pid file and log; default `$PRISMAFLOW_HOME/broker`",
    )
    jar_cache: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "prismaflow" / "jars",
        description="Where the Kafka jars resolved from Maven Central are cached; default `~/.cache/prismaflow/jars`",
    )
    host: str = Field(default="127.0.0.1", description="Address the broker listens on")
    port: int = Field(default=9092, ge=1, le=65535, description="Client (PLAINTEXT) port")
    controller_port: int = Field(default=9093, ge=1, le=65535, description="KRaft controller port")
    kafka_version: str = Field(default="4.1.1", description="Apache Kafka version (org.apache.kafka:kafka_2.13)")
    heap: str = Field(default="768m", description="Java heap size for the broker (-Xmx)")
    properties: str = Field(
        default="", description="Extra broker settings, comma-separated key=value, appended to server.properties "
                                "(e.g. `num.io.threads=2,num.network.threads=2`)")
    jvm_options: str = Field(
        default="-XX:TieredStopAtLevel=1",
        description="Extra JVM options for the broker, space-separated. The default compiles with C1 only: on a "
                    "small machine the broker's C2 compiler otherwise takes up to half a core for minutes after "
                    "each start, competing with the pipeline (see README, Performance)")
    start_timeout_s: float = Field(default=90.0, gt=0, description="How long to wait for the broker to answer")

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"
