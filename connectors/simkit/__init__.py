"""The simulator kit: what every local stand-in for an outside service shares.

Prisma Cloud, Jira, ServiceNow, Splunk HEC, Slack/Teams, the LLM endpoint and the feed hosts are
each replaced in tests and demos by a simulator that speaks the service's public API. What differs
between them is that API; what they share lives here:

- :mod:`~connectors.simkit.app`: :class:`Simulator`, the ASGI base with counted routes and the
  ``/_sim`` admin API (stats, faults);
- :mod:`~connectors.simkit.faults`: :class:`Fault`, :class:`FaultRules`, :class:`FaultBook`;
- :mod:`~connectors.simkit.stats`: :class:`RouteStats`, per-route calls and answers;
- :mod:`~connectors.simkit.clock`: :class:`SimClock`, the injectable clock tests freeze and move;
- :mod:`~connectors.simkit.ratelimit`: :class:`TokenBucket` on that clock;
- :mod:`~connectors.simkit.auth`: reading Basic and Bearer credentials;
- :mod:`~connectors.simkit.serve`: the ``python -m`` argument and uvicorn boilerplate.
"""

from __future__ import annotations

from connectors.simkit.app import Serve, Simulator
from connectors.simkit.auth import basic_credentials, bearer_token
from connectors.simkit.clock import SimClock
from connectors.simkit.faults import Fault, FaultBook, FaultRules, retry_after_header, wait_out
from connectors.simkit.ratelimit import TokenBucket
from connectors.simkit.serve import serve, simulator_parser
from connectors.simkit.stats import RouteStats

__all__ = [
    "Fault",
    "FaultBook",
    "FaultRules",
    "RouteStats",
    "Serve",
    "SimClock",
    "Simulator",
    "TokenBucket",
    "basic_credentials",
    "bearer_token",
    "retry_after_header",
    "serve",
    "simulator_parser",
    "wait_out",
]
