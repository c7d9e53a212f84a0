"""Splunk HEC as an :class:`~connectors.ports.EventForwarder` for the SIEM forward sink.

The stream side (:class:`streams.siem_forward.SiemForwardSink`) reads ``prisma.siem.events``,
filters by tier and commits offsets; this adapter maps each event to HEC's envelope
(:func:`connectors.splunk.events.siem_event_to_hec`) and sends the batch with
:class:`~connectors.splunk.client.HecClient` (indexer acknowledgement when ``use_ack``).

Errors become the ports' signals here: HEC busy or down beyond the client's retries, or an ack
timeout, is back-pressure (:class:`~connectors.ports.TargetUnavailableError`); an event HEC refuses
for good (bad index, too large) is a :class:`~connectors.ports.RecordRejectedError` in the result;
any other failure (token rejected) is :class:`~connectors.ports.TargetUnusableError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from connectors.base import ConnectorError
from connectors.sink_signals import sink_signals
from connectors.ports import ForwardResult, RecordRejectedError
from connectors.splunk.client import HecClient, SendResult
from connectors.splunk.events import HecEvent, siem_event_to_hec
from connectors.splunk.settings import SplunkHecSettings
from processors.records import SiemEvent

__all__ = ["HecSender", "SplunkHecForwarder"]


class HecSender(Protocol):
    """What the adapter needs from :class:`~connectors.splunk.client.HecClient`."""

    async def send(self, events: Sequence[HecEvent]) -> SendResult: ...
    async def aclose(self) -> None: ...


class SplunkHecForwarder:
    """Sends SIEM events to a Splunk HTTP Event Collector.

    ``client`` defaults to a :class:`HecClient` on ``settings``; tests pass one over
    ``httpx.ASGITransport``.
    """

    name = "splunk"

    def __init__(self, settings: SplunkHecSettings, *, client: HecSender | None = None) -> None:
        self.settings = settings
        self.client: HecSender = client or HecClient(settings)

    async def forward(self, events: Sequence[SiemEvent]) -> ForwardResult:
        """Send ``events``; the result lists those HEC refused for good by their position."""
        with sink_signals(unusable=(ConnectorError,)):
            result = await self.client.send([siem_event_to_hec(event, self.settings) for event in events])
        rejected: dict[int, RecordRejectedError] = {}
        for refusal in result.rejected:
            signal = RecordRejectedError(str(refusal.error))
            signal.__cause__ = refusal.error
            rejected[refusal.position] = signal
        return ForwardResult(sent=result.sent, rejected=rejected)

    async def aclose(self) -> None:
        await self.client.aclose()
