"""Syslog/CEF connector: CEF lines, RFC 5424 messages, and a TCP/TLS sender.

:mod:`.cef` turns a :class:`~processors.records.SiemEvent` into a CEF line, :mod:`.rfc5424` wraps
it in an RFC 5424 message and an octet-counted frame, :class:`SyslogClient` sends batches to a
receiver (rsyslog, syslog-ng, a SIEM collector). The client knows nothing of Kafka.
"""

from __future__ import annotations

from connectors.syslog.cef import cef_severity, siem_event_to_cef, syslog_severity
from connectors.syslog.client import SyslogClient, SyslogMessage, SyslogSettings
from connectors.syslog.rfc5424 import (
    FramingError,
    format_rfc5424,
    frame_octet_counted,
    split_octet_counted,
)

__all__ = [
    "FramingError",
    "SyslogClient",
    "SyslogMessage",
    "SyslogSettings",
    "cef_severity",
    "format_rfc5424",
    "frame_octet_counted",
    "siem_event_to_cef",
    "split_octet_counted",
    "syslog_severity",
]
