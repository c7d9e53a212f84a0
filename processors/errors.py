"""The exception tree of Prismaflow.

Every error raised on purpose by Prismaflow derives from :class:`PrismaflowError`, so a caller can
catch ours apart from everyone else's. Each package adds the classes it needs under these roots and
translates foreign errors (httpx, fastavro, the openai SDK) at its boundary with
``raise OurError(...) from exc``::

    PrismaflowError
    ├── ConfigurationError      settings missing or invalid; the message names the setting
    ├── SchemaError             an Avro schema is unknown, invalid or incompatible
    │   └── SerializationError  a record could not be encoded or decoded
    ├── ExternalServiceError    an outside system (Prisma Cloud, Jira, ...) failed (connectors add subclasses)
    └── InvalidRecordError      a record cannot be processed; it belongs on the dead-letter topic

The errors about Kafka itself (the broker, transactions, records a producer refused) are the stream
layer's: :mod:`streams.errors` adds them under the same root.
"""

from __future__ import annotations

__all__ = [
    "PrismaflowError",
    "ConfigurationError",
    "SchemaError",
    "SerializationError",
    "ExternalServiceError",
    "InvalidRecordError",
]


class PrismaflowError(Exception):
    """Root of every error Prismaflow raises on purpose."""


class ConfigurationError(PrismaflowError):
    """A setting is missing or invalid, or a required tool is not installed."""


class SchemaError(PrismaflowError):
    """An Avro schema is unknown, invalid, or incompatible with its previous version."""


class SerializationError(SchemaError):
    """A record could not be encoded to, or decoded from, Avro."""


class ExternalServiceError(PrismaflowError):
    """An outside system failed; connectors raise more specific subclasses."""


class InvalidRecordError(PrismaflowError):
    """A record cannot be processed and belongs on the dead-letter topic with this reason."""

    def __init__(self, reason: str, *, stage: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage
