"""A syslog/CEF receiver as an :class:`~connectors.ports.EventForwarder` for the SIEM forward sink.

Each event becomes a CEF line (:func:`connectors.syslog.cef.siem_event_to_cef`) in an RFC 5424
message (tier as severity, the event's time), and the batch goes out in one write with
:class:`~connectors.syslog.client.SyslogClient` over TCP/TLS. ``console_base_url`` (optional)
becomes CEF ``request`` = ``<base>/<alert id>``; ``device_external_id`` names this Prismaflow
instance.

Errors become the ports' signals here: a receiver that stays away after the client's reconnects
is back-pressure (:class:`~connectors.ports.TargetUnavailableError`); an event that cannot be
formatted is a :class:`~connectors.ports.RecordRejectedError` in the result; any other failure
(TLS certificate refused) is :class:`~connectors.ports.TargetUnusableError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from connectors.base import ConnectorError
from connectors.sink_signals import sink_signals
from connectors.ports import ForwardResult, RecordRejectedError
from connectors.syslog.cef import siem_event_to_cef, syslog_severity
from connectors.syslog.client import SyslogClient, SyslogMessage, SyslogSettings
from processors.records import SiemEvent

__all__ = ["SyslogCefForwarder", "SyslogSender"]


class SyslogSender(Protocol):
    """What the adapter needs from :class:`~connectors.syslog.client.SyslogClient`."""

    async def send_many(self, messages: Sequence[SyslogMessage]) -> None: ...
    async def aclose(self) -> None: ...


class SyslogCefForwarder:
    """Sends SIEM events as CEF lines in RFC 5424 messages to one syslog receiver."""

    name = "syslog"

    def __init__(self, settings: SyslogSettings, *, client: SyslogSender | None = None,
                 console_base_url: str | None = None, device_external_id: str | None = None) -> None:
        self.settings = settings
        self.client: SyslogSender = client or SyslogClient(settings)
        self.console_base_url = console_base_url.rstrip("/") if console_base_url else None
        self.device_external_id = device_external_id

    def message(self, event: SiemEvent) -> SyslogMessage:
        """The syslog message for one event: CEF in MSG, tier as severity, the event's time."""
        console = f"{self.console_base_url}/{event.alert_id}" if self.console_base_url else None
        line = siem_event_to_cef(event, console_url=console, device_external_id=self.device_external_id)
        return SyslogMessage(msg=line, severity=syslog_severity(event), msgid="prismaflow.alert",
                             timestamp=event.event_time)

    async def forward(self, events: Sequence[SiemEvent]) -> ForwardResult:
        """Send the events that format in one write; the result lists those that do not."""
        messages: list[SyslogMessage] = []
        rejected: dict[int, RecordRejectedError] = {}
        for position, event in enumerate(events):
            try:
                messages.append(self.message(event))
            except ValueError as exc:
                signal = RecordRejectedError(str(exc))
                signal.__cause__ = exc
                rejected[position] = signal
        with sink_signals(unusable=(ConnectorError,)):
            await self.client.send_many(messages)
        return ForwardResult(sent=len(messages), rejected=rejected)

    async def aclose(self) -> None:
        await self.client.aclose()
