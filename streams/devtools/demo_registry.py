"""The demo's Schema Registry: the one ``SCHEMA_REGISTRY_URL`` names, else the local Apicurio.

``make demo`` runs with a registry, so its topics carry the Confluent wire format that
``kafka-avro-console-consumer``, Kafka Connect and ksqlDB read. It registers the demo's subjects
the way a deploy does (``prismaflow schemas register``), not by letting producers auto-register:
producers run with ``auto_register`` off, as in production, so the demo also proves the
registered schemas are the ones the producers look up. A registry the demo started is stopped at
the end (it is in memory: its schemas go with it); one that was already running is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka.schema_registry import SchemaRegistryClient

from processors.errors import PrismaflowError
from streams.devtools.registry import APICURIO_VERSION, DEFAULT_PORT, LocalSchemaRegistry
from streams.schema_registration import register_schemas
from streams.settings import SchemaRegistrySettings, default_home
from streams.subjects import catalogue_subjects

__all__ = ["DemoRegistry"]


class DemoRegistry:
    """Starts (or finds) the demo's registry and registers a topic prefix's subjects in it."""

    def __init__(self, settings: SchemaRegistrySettings, say: Callable[[str, str], None]) -> None:
        self._settings = settings
        self._say = say
        self._started: LocalSchemaRegistry | None = None

    def start(self, prefix: str) -> SchemaRegistrySettings:
        """The registry section the demo's producers and consumers use, with ``prefix``'s subjects
        registered at the configured compatibility level.

        Raises :class:`PrismaflowError` when the registry refuses a schema.
        """
        settings = self._settings
        if settings.url is not None:
            self._say("registry", f"using SCHEMA_REGISTRY_URL={settings.url}")
        else:
            home = default_home() / "registry"
            local = LocalSchemaRegistry(home, DEFAULT_PORT, install_dir=home / "build")
            already = local.status().running
            local.start()
            self._started = None if already else local
            settings = settings.model_copy(update={"url": local.url})
            self._say("registry", f"{'reusing' if already else 'started'} local Apicurio Registry {APICURIO_VERSION} "
                                  f"(Confluent API, in memory) at {local.url}")
        with SchemaRegistryClient(settings.client_config()) as client:
            results = register_schemas(client, catalogue_subjects(prefix), settings.compatibility)
        refused = [r.line() for r in results if r.outcome.failed]
        if refused:
            raise PrismaflowError("the schema registry refused schemas: " + "; ".join(refused))
        self._say("registry", f"`prismaflow schemas register`: {len(results)} subjects, compatibility "
                              f"{settings.compatibility}; producers write the Confluent wire format")
        return settings

    def stop(self) -> None:
        """Stop the registry if the demo started it."""
        if self._started is not None:
            self._started.stop()
            self._started = None
            self._say("registry", "stopped")
