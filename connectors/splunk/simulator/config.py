"""How the simulated HEC behaves, its tokens, and how it answers (``{"text", "code"}``).

Every [U] choice of the reference (all-or-nothing batches, when an ack turns true, what size 413
counts) is a :class:`SimConfig` switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from connectors.simkit import FaultRules

__all__ = ["FAULT_RULES", "SimConfig", "SimToken", "hec_reply"]

FAULT_RULES = FaultRules(
    kinds=frozenset({"busy", "500", "slow"}),
    fields=("kind", "route", "count", "delay_s", "retry_after_s"),
)
"""Faults on ``route`` (``*``, ``event``, ``raw``, ``ack``, ``health``): ``busy`` (503, code 9),
``500`` (code 8) or ``slow``, for ``count`` calls."""


def hec_reply(status: int, text: str, code: int | None, **extra: Any) -> Response:
    """HEC's reply body ``{"text", "code", ...}``."""
    body: dict[str, Any] = {"text": text}
    if code is not None:
        body["code"] = code
    body.update({k.replace("_", "-"): v for k, v in extra.items()})
    return JSONResponse(body, status_code=status)


@dataclass(frozen=True)
class SimToken:
    """A HEC token's input settings."""

    indexes: tuple[str, ...] = ("main", "security", "prisma")
    default_index: str = "main"
    use_ack: bool = False
    disabled: bool = False


@dataclass
class SimConfig:
    """Behaviour switches."""

    tokens: dict[str, SimToken] = field(default_factory=lambda: {
        "11111111-2222-3333-4444-555555555555": SimToken(),
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee": SimToken(use_ack=True),
    })
    allow_query_string_auth: bool = False
    max_content_length: int = 1_000_000  # Splunk Cloud; 838_860_800 for Enterprise >= 6.5
    max_event_size: int = 5 * 1024 * 1024
    all_or_nothing: bool = True
    ack_after_polls: int | None = 1  # None: never acknowledged
    health_code: int = 17
