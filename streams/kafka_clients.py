"""The one place where Prismaflow builds Kafka clients, from :class:`~streams.settings.KafkaSettings`.

Every confluent-kafka ``Producer``, ``Consumer`` and ``AdminClient`` of the runtime, the demo, the
bench and the chaos campaign comes from a :class:`KafkaClients` factory, so a setting (a SASL
password, a CA bundle, a librdkafka tuning knob) reaches all of them or none.

Each client's configuration is assembled in this order, later entries winning:

1. the connection settings (``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_SECURITY_PROTOCOL``, TLS: CA, client
   certificate and key, host name check; SASL: PLAIN, SCRAM, OAUTHBEARER with OIDC client
   credentials; client id; :meth:`~streams.settings.KafkaSettings.client_config`, checked for
   consistency when the settings are read);
2. the role's defaults (a producer is idempotent with ``acks=all``, ``zstd`` and ``linger.ms=5``);
3. what the calling component asks for (a worker's ``transactional.id`` and short
   ``retry.backoff.ms``, a sink's ``message.timeout.ms=0``, the bench's what-if overrides);
4. the **passthrough**: any librdkafka property, from the Java-properties file named by
   ``KAFKA_CONFIG_FILE`` and then from ``KAFKA_CONFIG__<PROPERTY>`` variables (the variables win
   over the file). ``KAFKA_CONFIG__SSL_CA_LOCATION=/etc/ca.pem`` sets ``ssl.ca.location``: the
   name after ``KAFKA_CONFIG__`` in lower case with ``_`` read as ``.``. For the few properties
   whose names hold an underscore (``log_level``), use the file, which takes names verbatim.

The passthrough may not set the properties the pipeline's exactly-once guarantees rest on
(:data:`PINNED_PROPERTIES`: group and transactional identity, ``isolation.level``, auto commit,
idempotence): such a setting fails at start with a message naming it, rather than quietly turning
exactly-once into at-least-once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import javaproperties
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from processors.errors import ConfigurationError
from streams.settings import KafkaSettings

__all__ = [
    "KafkaClients",
    "PINNED_PROPERTIES",
    "passthrough_properties",
    "property_name",
    "PRODUCER_DEFAULTS",
]

PRODUCER_DEFAULTS: Mapping[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "zstd",
    "message.timeout.ms": 30000,
}
"""A producer's role defaults: durable, ordered, duplicate-free writes."""

PINNED_PROPERTIES = frozenset({
    "group.id", "group.instance.id", "transactional.id", "isolation.level", "enable.auto.commit",
    "enable.idempotence",
})
"""librdkafka properties the code sets for correctness, which the passthrough may not change."""


def property_name(variable_suffix: str) -> str:
    """The librdkafka property that ``KAFKA_CONFIG__<variable_suffix>`` sets: lower case, ``_`` → ``.``."""
    return variable_suffix.lower().replace("_", ".")


def passthrough_properties(settings: KafkaSettings) -> dict[str, str]:
    """The librdkafka properties of the passthrough: the properties file, then the variables over it.

    Raises :class:`~processors.errors.ConfigurationError` when the file cannot be read or a pinned
    property is set.
    """
    properties: dict[str, str] = {}
    if settings.config_file is not None:
        properties.update(_read_properties_file(settings.config_file))
    properties.update({property_name(key): value for key, value in settings.config.items()})
    pinned = sorted(PINNED_PROPERTIES & properties.keys())
    if pinned:
        raise ConfigurationError(
            f"the Kafka passthrough (KAFKA_CONFIG__*, KAFKA_CONFIG_FILE) may not set {', '.join(pinned)}: "
            "Prismaflow sets it itself for exactly-once processing")
    return properties


def _read_properties_file(path: Path) -> dict[str, str]:
    try:
        with path.open(encoding="utf-8") as handle:
            return dict(javaproperties.load(handle))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigurationError(f"cannot read KAFKA_CONFIG_FILE {path}: {exc}") from exc


class KafkaClients:
    """Builds every Kafka client of a process from one :class:`KafkaSettings`.

    Cheap to build (the passthrough file is read once, here); components take the settings and
    build one in their constructor, or receive one from the composition root.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.passthrough = passthrough_properties(settings)

    # -- configurations ---------------------------------------------------------------------------
    def config(self, *layers: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
        """Connection settings, then ``layers`` and ``overrides`` in order, then the passthrough."""
        config = self.settings.client_config()
        for layer in layers:
            config.update(layer)
        config.update(overrides)
        config.update(self.passthrough)
        return config

    def producer_config(self, **overrides: Any) -> dict[str, Any]:
        """A producer's configuration: durable defaults, ``overrides``, the passthrough."""
        return self.config(PRODUCER_DEFAULTS, **overrides)

    def consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """A consumer's configuration in group ``group_id``: offsets are committed by the code (in
        a transaction or after the far side confirmed), and only committed records are read."""
        return self.config({"group.id": group_id, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                            "isolation.level": "read_committed"}, overrides)

    # -- clients ----------------------------------------------------------------------------------
    def producer(self, **overrides: Any) -> Any:
        """A durable producer (see :meth:`producer_config`)."""
        return self.new_producer(self.producer_config(**overrides))

    def new_producer(self, config: dict[str, Any]) -> Any:
        """A producer from a configuration this factory assembled (the transactional layer builds
        a replacement with the same configuration when its producer is fenced or stuck)."""
        return Producer(config)

    def consumer(self, group_id: str, **overrides: Any) -> Any:
        """A consumer in group ``group_id`` (see :meth:`consumer_config`)."""
        return Consumer(self.consumer_config(group_id, **overrides))

    def reader(self, purpose: str, **overrides: Any) -> Any:
        """A consumer for reading topics by assignment, in a group of its own that commits nothing
        (``prismaflow-<purpose>-<random>``); reads only committed records."""
        return self.consumer(f"prismaflow-{purpose}-{uuid.uuid4().hex[:12]}", **overrides)

    def admin(self, **overrides: Any) -> Any:
        """An admin client (topic creation, metadata)."""
        return AdminClient(self.config(overrides))

