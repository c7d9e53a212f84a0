"""The errors about Kafka itself, under the project's root (:mod:`processors.errors`)::

    PrismaflowError
    ├── BrokerError               the Kafka broker could not be started, reached or used
    │   ├── PublishError          (streams.publish) a produce or transaction call failed
    │   ├── TransactionAborted    (streams.transactions) the broker aborted a transaction
    │   ├── CallTimedOut/Stopping (streams.outage) a client call outlived its timeout, or shutdown began
    │   ├── BrokerUnreachable     (streams.operator.preflight) no broker answered a command's probe
    │   ├── TopicsMissing         (streams.operator.preflight) topics a command needs do not exist
    │   └── LocalRegistryError    (streams.devtools.registry) the local Schema Registry failed
    └── SchemaError → SerializationError
        └── RecordsRejectedError  (connectors.ports) records of a batch can never be written; none was

They live here, beside the Kafka plumbing that raises them, so :mod:`processors` stays free of any
notion of a broker.
"""

from __future__ import annotations

from connectors.ports import RecordsRejectedError
from processors.errors import PrismaflowError

__all__ = ["BrokerError", "RecordsRejectedError"]


class BrokerError(PrismaflowError):
    """The Kafka broker could not be started, reached, or used."""
