"""ServiceNow connector: a Table API client, its settings, and a local simulator.

The client is pure httpx (no Kafka); the Kafka-facing sink sits beside it in this package.
See ``connectors.servicenow.simulator`` for the stand-in instance.
"""

from __future__ import annotations

from connectors.servicenow.client import (
    DataPolicyError,
    ServiceNowClient,
    ServiceNowRecord,
    TicketDraft,
    build_create_fields,
)
from connectors.servicenow.settings import (
    BasicAuth,
    BearerAuth,
    ServiceNowSettings,
    ServiceNowTable,
    StateValues,
)

__all__ = [
    "BasicAuth",
    "BearerAuth",
    "DataPolicyError",
    "ServiceNowClient",
    "ServiceNowRecord",
    "ServiceNowSettings",
    "ServiceNowTable",
    "StateValues",
    "TicketDraft",
    "build_create_fields",
]
