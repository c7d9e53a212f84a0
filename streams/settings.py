"""Typed settings for every Prismaflow component, read from the environment or a secrets folder.

Each component has its own settings model with its own environment prefix; nothing else in the
code base reads ``os.environ``. Secrets are ``SecretStr`` and may come from files in the folder named
by ``PRISMAFLOW_SECRETS_DIR`` (one file per setting, named like the environment variable in lower
case, the Docker/Kubernetes secrets convention) instead of the environment.

The README's configuration reference is generated from these models by ``prismaflow config`` and a
test keeps the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "KafkaSettings",
    "SchemaRegistrySettings",
    "BrokerSettings",
    "all_settings_models",
    "default_home",
]


def default_home() -> Path:
    """Where Prismaflow keeps local state (broker data, jar cache, logs): ``PRISMAFLOW_HOME`` or
    ``./.prismaflow``."""
    return Path(os.environ.get("PRISMAFLOW_HOME", ".prismaflow")).resolve()


def _secrets_dir() -> str | None:
    folder = os.environ.get("PRISMAFLOW_SECRETS_DIR")
    return folder if folder and Path(folder).is_dir() else None


class _Settings(BaseSettings):
    """Base for all settings: unknown keys are rejected, secrets may come from files."""

    model_config = SettingsConfigDict(extra="forbid", case_sensitive=False, env_ignore_empty=True)
    component: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        values.setdefault("_secrets_dir", _secrets_dir())
        super().__init__(**values)


class KafkaSettings(_Settings):
    """How every worker reaches Kafka."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="forbid", env_ignore_empty=True,
                                      env_nested_delimiter="__")
    component: ClassVar[str] = "Kafka client"

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
        from streams.kafka_logging import KAFKA_LOGGER

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


class SchemaRegistrySettings(_Settings):
    """Where Avro schemas are registered. Without a URL, records carry Avro single-object encoding."""

    model_config = SettingsConfigDict(env_prefix="SCHEMA_REGISTRY_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Schema Registry"

    url: str | None = Field(
        default=None,
        description="Confluent-compatible Schema Registry URL; unset means single-object encoding",
    )
    basic_auth_user_info: SecretStr | None = Field(
        default=None, description="user:password for the registry (secret)"
    )


class BrokerSettings(_Settings):
    """The local Kafka broker that `prismaflow broker start` runs for development, demo and tests."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_BROKER_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Local broker"

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


def all_settings_models() -> list[type[_Settings]]:
    """Every settings model, in the order the README's configuration reference lists them."""
    from connectors.prisma.source import PollerSettings
    from connectors.prisma.webhook import WebhookSettings
    from streams.run import WorkerSettings
    from streams.analysis import AnalysisStageSettings
    from streams.chat import ChatSinkSettings
    from streams.feeds import FeedEnvSettings
    from streams.siem import SiemStageSettings, SplunkSinkSettings, SyslogSinkSettings
    from streams.sinks import JiraEnvSettings, ServiceNowEnvSettings, SyncEnvSettings, TicketEnvSettings
    from streams.sources import PrismaConnectionSettings

    return [KafkaSettings, SchemaRegistrySettings, BrokerSettings, PrismaConnectionSettings, PollerSettings,
            WebhookSettings, WorkerSettings, FeedEnvSettings, AnalysisStageSettings, TicketEnvSettings, JiraEnvSettings,
            ServiceNowEnvSettings, SyncEnvSettings, SiemStageSettings, SplunkSinkSettings, SyslogSinkSettings,
            ChatSinkSettings]
