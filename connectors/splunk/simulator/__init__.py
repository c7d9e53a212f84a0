"""A local Splunk HTTP Event Collector, for tests and demos.

:class:`HecSimulator` (Starlette ASGI) serves ``/services/collector[/event[/1.0]]``, ``/raw``,
``/ack`` and ``/health`` with HEC's token auth order and reply codes, concatenated-JSON and gzip
bodies, per-token indexes and indexer acknowledgement over channels, a content-length limit, and
an admin API under ``/_sim`` (``stats``, ``events`` with their batches, ``faults``).
Run it with ``python -m connectors.splunk.simulator --port 8288``.
"""

from __future__ import annotations

from connectors.simkit import Fault
from connectors.splunk.simulator.app import HecSimulator
from connectors.splunk.simulator.config import SimConfig, SimToken, hec_reply

__all__ = ["Fault", "HecSimulator", "SimConfig", "SimToken", "hec_reply"]
