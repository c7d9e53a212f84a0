"""The Kafka, Schema Registry and local-broker sections of the settings tree.

These are plain models: none reads the environment itself. :class:`streams.config.PrismaflowSettings`
is the one root that holds them (as ``kafka``, ``schema_registry``, ``broker``) with every other
component's section and fills them from the environment and the secrets folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from streams.kafka_logging import KAFKA_LOGGER

__all__ = [
    "KafkaSettings",
    "SaslMechanism",
    "SecurityProtocol",
    "SchemaRegistrySettings",
    "BrokerSettings",
    "SettingsSection",
    "default_home",
    "security_problems",
]


def default_home() -> Path:
    """Where Prismaflow keeps local state (broker data, jar cache, logs): ``PRISMAFLOW_HOME`` or
    ``./.prismaflow``."""
    return Path(os.environ.get("PRISMAFLOW_HOME", ".prismaflow")).resolve()


class SettingsSection(BaseModel):
    """Base of a section of the settings tree: unknown keys are rejected, values are immutable, and a
    validation error names the setting and the rule but never echoes the value (it may be a secret)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]
_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
_SSL_PROTOCOLS = ("SSL", "SASL_SSL")
_PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaSettings(SettingsSection):
    """How every worker reaches Kafka: the broker list, TLS (CA, client certificate, host name check)
    and SASL (PLAIN, SCRAM, OAUTHBEARER with OIDC client credentials).

    Validation refuses combinations librdkafka would accept and then fail on at the first connection
    (or silently ignore): a SASL mechanism on a protocol without SASL, a client certificate without
    its key, credentials of one mechanism given for another. Each message names the librdkafka
    properties involved; ``KAFKA_<PROPERTY>`` (dots as underscores) is the variable.
    """

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers"
    )
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (OIDC client credentials, "
                                  "`KAFKA_SASL_OAUTHBEARER_*`) or GSSAPI (Kerberos, its settings through "
                                  "`KAFKA_CONFIG__SASL_KERBEROS_*`); needs a SASL security protocol")
    sasl_username: str | None = Field(default=None, description="SASL user name (PLAIN, SCRAM)")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (PLAIN, SCRAM; secret)")
    sasl_oauthbearer_client_id: str | None = Field(
        default=None, description="OAUTHBEARER: OIDC client id, sent to the token endpoint (client credentials grant)")
    sasl_oauthbearer_client_secret: SecretStr | None = Field(
        default=None, description="OAUTHBEARER: OIDC client secret (secret)")
    sasl_oauthbearer_token_endpoint_url: str | None = Field(
        default=None, description="OAUTHBEARER: the identity provider's token endpoint (https URL)")
    sasl_oauthbearer_scope: str | None = Field(
        default=None, description="OAUTHBEARER: scope requested with the token (optional; some providers need one)")
    sasl_oauthbearer_extensions: str | None = Field(
        default=None, description="OAUTHBEARER: SASL extensions as comma-separated key=value (Confluent Cloud: "
                                  "`logicalCluster=lkc-...,identityPoolId=pool-...`)")
    ssl_ca_location: str | None = Field(
        default=None, description="CA bundle (PEM) that signed the brokers' certificates; unset: the system's CAs")
    ssl_certificate_location: str | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS (Strimzi, MSK); needs the key")
    ssl_key_location: str | None = Field(
        default=None, description="Private key (PEM) of the client certificate")
    ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of the client certificate's private key, when it is encrypted (secret)")
    ssl_endpoint_identification: bool = Field(
        default=True, description="Check that the broker's certificate names the host connected to "
                                  "(`ssl.endpoint.identification.algorithm=https`); turn off only for brokers whose "
                                  "certificates do not name their address")
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

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        """librdkafka takes these names in any case; the checks below compare upper case."""
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        problems = security_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

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
        optional: dict[str, str | SecretStr | None] = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "sasl.oauthbearer.client.id": self.sasl_oauthbearer_client_id,
            "sasl.oauthbearer.client.secret": self.sasl_oauthbearer_client_secret,
            "sasl.oauthbearer.token.endpoint.url": self.sasl_oauthbearer_token_endpoint_url,
            "sasl.oauthbearer.scope": self.sasl_oauthbearer_scope,
            "sasl.oauthbearer.extensions": self.sasl_oauthbearer_extensions,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password,
        }
        for name, value in optional.items():
            if value is not None and value != "":
                config[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
        if self.sasl_mechanism == "OAUTHBEARER":
            config["sasl.oauthbearer.method"] = "oidc"  # librdkafka fetches and refreshes the token itself
        if self.security_protocol in _SSL_PROTOCOLS:
            config["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_endpoint_identification else "none"
        return config


def security_problems(settings: KafkaSettings) -> list[str]:
    """What is inconsistent in ``settings``' TLS and SASL choices, one sentence each (empty: fine).

    Names librdkafka properties, never values (a value may be a secret).
    """
    s = settings
    problems: list[str] = []
    sasl = s.security_protocol in _SASL_PROTOCOLS
    tls = s.security_protocol in _SSL_PROTOCOLS
    oidc = {"sasl.oauthbearer.client.id": s.sasl_oauthbearer_client_id,
            "sasl.oauthbearer.client.secret": s.sasl_oauthbearer_client_secret,
            "sasl.oauthbearer.token.endpoint.url": s.sasl_oauthbearer_token_endpoint_url}
    oidc_optional = {"sasl.oauthbearer.scope": s.sasl_oauthbearer_scope,
                     "sasl.oauthbearer.extensions": s.sasl_oauthbearer_extensions}
    passwords = {"sasl.username": s.sasl_username, "sasl.password": s.sasl_password}
    if s.sasl_mechanism and not sasl:
        problems.append(f"sasl.mechanism {s.sasl_mechanism} needs security.protocol SASL_SSL or SASL_PLAINTEXT "
                        f"(it is {s.security_protocol})")
    if sasl and not s.sasl_mechanism:
        problems.append(f"security.protocol {s.security_protocol} needs sasl.mechanism (PLAIN, SCRAM-SHA-256, "
                        "SCRAM-SHA-512, OAUTHBEARER or GSSAPI)")
    if s.sasl_mechanism in _PASSWORD_MECHANISMS:
        missing = [name for name, value in passwords.items() if not value]
        if missing:
            problems.append(f"sasl.mechanism {s.sasl_mechanism} needs {' and '.join(missing)}")
    elif any(passwords.values()):
        problems.append("sasl.username and sasl.password are for sasl.mechanism PLAIN or SCRAM-SHA-256/512 "
                        f"(it is {s.sasl_mechanism or 'unset'})")
    if s.sasl_mechanism == "OAUTHBEARER":
        missing = [name for name, value in oidc.items() if not value]
        if missing:
            problems.append(f"sasl.mechanism OAUTHBEARER (OIDC client credentials) needs {', '.join(missing)}")
        url = s.sasl_oauthbearer_token_endpoint_url
        if url and not url.lower().startswith(("https://", "http://")):
            problems.append("sasl.oauthbearer.token.endpoint.url must be an http(s) URL")
    elif any(oidc.values()) or any(oidc_optional.values()):
        problems.append(f"sasl.oauthbearer.* settings are for sasl.mechanism OAUTHBEARER "
                        f"(it is {s.sasl_mechanism or 'unset'})")
    if bool(s.ssl_certificate_location) != bool(s.ssl_key_location):
        given, lacking = (("ssl.certificate.location", "ssl.key.location") if s.ssl_certificate_location
                          else ("ssl.key.location", "ssl.certificate.location"))
        problems.append(f"{given} needs {lacking}: a client certificate and its private key go together")
    if s.ssl_key_password is not None and not s.ssl_key_location:
        problems.append("ssl.key.password is set but ssl.key.location is not")
    client_tls = [name for name, value in (("ssl.ca.location", s.ssl_ca_location),
                                           ("ssl.certificate.location", s.ssl_certificate_location),
                                           ("ssl.key.location", s.ssl_key_location)) if value]
    if client_tls and not tls:
        verb = "needs" if len(client_tls) == 1 else "need"
        problems.append(f"{', '.join(client_tls)} {verb} security.protocol SSL or SASL_SSL "
                        f"(it is {s.security_protocol})")
    return problems


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
    secure_listeners: bool = Field(
        default=False, description="Also open a mutual-TLS listener and a SASL_SSL/SCRAM-SHA-512 listener, with a "
                                   "throw-away CA and client certificate in `<home>/tls` (streams/devtools/broker_security.py)")
    ssl_port: int = Field(default=9094, ge=1, le=65535,
                          description="Port of the SSL listener that requires a client certificate (secure listeners)")
    sasl_ssl_port: int = Field(default=9095, ge=1, le=65535,
                               description="Port of the SASL_SSL listener with SCRAM-SHA-512 (secure listeners)")
    scram_username: str = Field(
        default="prismaflow", description="SCRAM user of the SASL_SSL listener; its random password is in "
                                          "`<home>/tls/scram.password`")

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"
