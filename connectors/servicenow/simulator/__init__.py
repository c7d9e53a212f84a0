"""A local ServiceNow instance speaking the Table API, for tests and demos.

:class:`ServiceNowSimulator` is a Starlette ASGI app serving ``/api/now/table/{table}`` (GET list
with an encoded-query subset, paging with ``Link`` and ``X-Total-Count``, GET one, POST, PATCH,
PUT, DELETE) for ``incident``, ``sn_si_incident``, ``sys_user``, ``sys_user_group`` and
``sys_journal_field``; basic and bearer auth (plus a fake ``/oauth_token.do``), a read-only user,
an hourly rate limit, and an admin API under ``/_sim`` (``stats``, ``faults``, ``records``).
Run it with ``python -m connectors.servicenow.simulator --port 8282``.
"""

from __future__ import annotations

from connectors.servicenow.simulator.app import ServiceNowSimulator
from connectors.servicenow.simulator.config import SimConfig, SimUser
from connectors.servicenow.simulator.store import TABLES, RecordStore, parse_query
from connectors.simkit import Fault

__all__ = [
    "TABLES",
    "Fault",
    "RecordStore",
    "ServiceNowSimulator",
    "SimConfig",
    "SimUser",
    "parse_query",
]
