"""Prisma Cloud connector: CSPM and Compute API clients, settings, and a local simulator.

The clients are pure httpx (no Kafka); the pollers (:mod:`.source`) and the webhook receiver
(:mod:`.webhook`) sit beside them and write through the ports (:mod:`connectors.ports`), which the
stream layer implements on Kafka (``streams/checkpoints.py``, ``streams/async_publish.py``). See
``connectors.prisma.simulator`` for the stand-in API.
"""

from __future__ import annotations

from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.models import (
    AlertFilter,
    AlertPage,
    ComputePage,
    LoginResponse,
    RemediationCli,
    SearchPage,
    TimeRange,
)
from connectors.prisma.settings import PrismaSettings

__all__ = [
    "AlertFilter",
    "AlertPage",
    "ComputeClient",
    "ComputePage",
    "CspmClient",
    "LoginResponse",
    "PrismaSettings",
    "RemediationCli",
    "SearchPage",
    "TimeRange",
]
