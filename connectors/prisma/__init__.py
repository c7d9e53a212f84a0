"""Prisma Cloud connector: CSPM and Compute API clients, settings, and a local simulator.

The clients are pure httpx (no Kafka); the Kafka-facing source, webhook receiver and checkpoint
store sit beside them in this package. See ``connectors.prisma.simulator`` for the stand-in API.
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
