"""A local Prisma Cloud (CSPM + Compute) speaking the public API, for tests and demos.

One Starlette ASGI app (:class:`PrismaCloudSimulator`) serves login and token extension,
``/v2/alert`` with opaque snapshot page tokens, alert actions, ``/resource``, RQL
``/search/config``, the Compute API, per-user rate limits and an admin API under ``/_sim``
(faults, stats, time). :func:`generate_estate` builds the data; :func:`push_webhooks` sends
CSPM and Compute webhook notifications. Run it with
``python -m connectors.prisma.simulator --port 8181 --seed 7 --alerts 500``.
"""

from __future__ import annotations

from connectors.prisma.simulator.core import PrismaCloudSimulator
from connectors.prisma.simulator.estate import Estate, Workload, generate_estate
from connectors.prisma.simulator.runtime import RateSpec, SimClock, SimConfig
from connectors.prisma.simulator.webhooks import compute_webhook, cspm_notification, push_webhooks
from connectors.simkit import Fault

__all__ = [
    "Estate",
    "Fault",
    "PrismaCloudSimulator",
    "RateSpec",
    "SimClock",
    "SimConfig",
    "Workload",
    "compute_webhook",
    "cspm_notification",
    "generate_estate",
    "push_webhooks",
]
