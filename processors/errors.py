"""The exception tree of Prismaflow.

Every error raised on purpose by Prismaflow derives from :class:`PrismaflowError`, so a caller can
catch ours apart from everyone else's. Each package adds the classes it needs under these roots and
translates foreign errors (httpx, confluent-kafka, fastavro) at its boundary with
``raise OurError(...) from exc``::

    PrismaflowError
    ├── ConfigurationError      settings missing or invalid; the message names the setting
    ├── SchemaError             an Avro schema is unknown, invalid or incompatible
    │   └── SerializationError  a record could not be encoded or decoded
    │       └── RecordsRejectedError  records of a batch can never be written; none of the batch was
    ├── BrokerError             the Kafka broker could not be started, reached or used
    ├── ExternalServiceError    an outside system (Prisma Cloud, Jira, ...) failed (connectors add subclasses)
    └── InvalidRecordError      a record cannot be processed; it belongs on the dead-letter topic
"""

from __future__ import annotations

__all__ = [
    "PrismaflowError",
    "ConfigurationError",
    "SchemaError",
    "SerializationError",
    "BrokerError",
    "ExternalServiceError",
    "InvalidRecordError",
    "RecordsRejectedError",
]


class PrismaflowError(Exception):
    """Root of every error Prismaflow raises on purpose."""


class ConfigurationError(PrismaflowError):
    """A setting is missing or invalid, or a required tool is not installed."""


class SchemaError(PrismaflowError):
    """An Avro schema is unknown, invalid, or incompatible with its previous version."""


class SerializationError(SchemaError):
    """A record could not be encoded to, or decoded from, Avro."""


class BrokerError(PrismaflowError):
    """The Kafka broker could not be started, reached, or used."""


class ExternalServiceError(PrismaflowError):
    """An outside system failed; connectors raise more specific subclasses."""


class InvalidRecordError(PrismaflowError):
    """A record cannot be processed and belongs on the dead-letter topic with this reason."""

    def __init__(self, reason: str, *, stage: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage


class RecordsRejectedError(SerializationError):
    """Records of a batch that can never be written (they do not encode, or are too large); none was.

    ``rejections`` maps each such record's index in the batch to the reason, so the writer's caller
    can dead-letter those records and write the batch again.
    """

    def __init__(self, rejections: dict[int, str]) -> None:
        self.rejections = dict(rejections)
        first = min(self.rejections) if self.rejections else -1
        super().__init__(
            f"{len(self.rejections)} records cannot be written; record {first}: {self.rejections.get(first, '')}")
