"""Splunk connector: an HTTP Event Collector client, its settings, the SIEM mapper, a simulator.

The client is pure httpx (no Kafka); :mod:`.sink` adapts it to the ports' event forwarder, which
the stream layer's SIEM forward sink drives.
See ``connectors.splunk.simulator`` for the stand-in HEC.
"""

from __future__ import annotations

from connectors.splunk.client import (
    AckTimeoutError,
    EventTooLargeError,
    HecClient,
    HecHealth,
    HecRejectedError,
    RejectedEvent,
    SendResult,
)
from connectors.splunk.events import HecEvent, siem_event_to_hec
from connectors.splunk.settings import HecRoute, SplunkHecSettings

__all__ = [
    "AckTimeoutError",
    "EventTooLargeError",
    "HecClient",
    "HecEvent",
    "HecHealth",
    "HecRejectedError",
    "HecRoute",
    "RejectedEvent",
    "SendResult",
    "SplunkHecSettings",
    "siem_event_to_hec",
]
