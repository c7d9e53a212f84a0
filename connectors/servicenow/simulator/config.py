"""How the simulated ServiceNow instance behaves, who may call it, and how it says no.

Every [U] item of the reference is a :class:`SimConfig` switch; :func:`failure` is the instance's
error envelope; :data:`FAULT_RULES` the fault JSON its admin API takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import JSONResponse, Response

from connectors.servicenow.simulator.store import TABLES
from connectors.simkit import FaultRules

__all__ = ["FAULT_RULES", "SimConfig", "SimUser", "failure"]

FAULT_RULES = FaultRules(
    kinds=frozenset({"503", "500", "429", "slow"}),
    fields=("kind", "route", "count", "duration_s", "delay_s", "retry_after_s", "method"),
)
"""Faults on ``route`` (``*`` or a table name) for ``count`` calls, or for ``duration_s``
seconds of simulator time from when they were added."""


def failure(status: int, message: str, detail: str = "",
            headers: dict[str, str] | None = None) -> Response:
    """ServiceNow's error envelope; the status code lives only in the status line."""
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"},
                        status_code=status, headers=headers)


@dataclass(frozen=True)
class SimUser:
    """An instance user: ``writable`` False models a read-only role (ACL 403 on writes)."""

    password: str
    writable: bool = True


@dataclass
class SimConfig:
    """Behaviour switches; every [U] item of the reference is one of these."""

    users: dict[str, SimUser] = field(default_factory=lambda: {
        "prismaflow": SimUser("sim-password"), "auditor": SimUser("sim-password", False)})
    bearer_tokens: dict[str, str] = field(default_factory=lambda: {"sim-token": "prismaflow"})
    oauth_clients: dict[str, str] = field(default_factory=lambda: {"sim-client": "sim-secret"})
    oauth_token_ttl_s: float = 1800.0
    rate_limit_per_hour: int | None = None
    require_close_fields: bool = True
    invalid_query_returns_no_rows: bool = False
    installed_tables: frozenset[str] = frozenset(TABLES)
    instance_url: str = "https://sim.service-now.com"
