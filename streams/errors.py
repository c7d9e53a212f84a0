"""The errors about Kafka itself, under the project's root (:mod:`processors.errors`)::

    PrismaflowError
    ├── BrokerError               the Kafka broker could not be started, reached or used
    │   ├── PublishError          (streams.publish) a produce or transaction call failed
    │   ├── TransactionAborted    (streams.transactions) the broker aborted a transaction
    │   ├── CallTimedOut/Stopping (streams.outage) a client call outlived its timeout, or shutdown began
    │   └── LocalRegistryError    (streams.devtools.registry) the local Schema Registry failed
    └── SchemaError → SerializationError
        └── RecordsRejectedError  records of a batch can never be written to Kafka; none of the batch was

They live here, beside the Kafka plumbing that raises them, so :mod:`processors` stays free of any
notion of a broker.
"""

from __future__ import annotations

from processors.errors import PrismaflowError, SerializationError

__all__ = ["BrokerError", "RecordsRejectedError"]


class BrokerError(PrismaflowError):
    """The Kafka broker could not be started, reached, or used."""


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
