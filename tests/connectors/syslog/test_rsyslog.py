"""End to end against a real rsyslog (imtcp, plain TCP and TLS): CEF events sent by SyslogClient
arrive intact, every line is valid RFC 5424 carrying valid CEF, and rsyslog's own parse of the
header agrees with what was sent. rsyslog is started by the ``rsyslog`` fixture (conftest.py) and
never skipped: a missing package fails the test with the apt-get command.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from connectors.base import RetryPolicy
from connectors.syslog.cef import siem_event_to_cef, syslog_severity
from connectors.syslog.client import SyslogClient, SyslogMessage, SyslogSettings
from processors.models import AlertStatus, RiskTier
from processors.records import SiemEvent
from tests.connectors.syslog.conftest import Rsyslog, RsyslogFactory
from tests.connectors.syslog.support import (
    cef_labelled,
    parse_cef,
    parse_rfc5424,
    parse_sd,
)
from tests.factories import make_siem_event

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
CONSOLE = "https://app.prismacloud.io/alerts?alertId={}&a=b"


def _events() -> list[SiemEvent]:
    """Events whose text exercises every escape, plus non-ASCII and an empty optional field."""
    return [
        make_siem_event(event_time=T0),
        make_siem_event(
            event_id="ev-2", alert_id="P-2", policy_name="Pipe | back\\slash = equals",
            summary="multi\nline\r\nsummary with = and \\ and | and ümlaut ✓",
            ticket_key=None, region="", event_time=T0 + timedelta(seconds=1),
        ),
        make_siem_event(
            event_id="ev-3", alert_id="P-3", tier=RiskTier.LOW, score=12, status=AlertStatus.RESOLVED,
            summary="[sd-looking] \"quoted\" text", event_time=T0 + timedelta(seconds=2),
        ),
    ]


def _message(event: SiemEvent) -> SyslogMessage:
    return SyslogMessage(
        siem_event_to_cef(event, console_url=CONSOLE.format(event.alert_id)),
        severity=syslog_severity(event),
        msgid="ALERT",
        timestamp=event.event_time,
        structured_data={"prismaflow@32473": {"alertId": event.alert_id, "note": 'q"\\]'}},
    )


def _settings(server: Rsyslog, **overrides: object) -> SyslogSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": server.port, "tls": False, "hostname": "pf-node-1", "app_name": "prismaflow",
        "facility": 16, "retry": RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2),
    }
    values.update(overrides)
    return SyslogSettings(**values)  # type: ignore[arg-type]


def _check_delivery(server: Rsyslog, events: list[SiemEvent]) -> None:
    raw = server.wait_for(len(events))
    assert len(raw) == len(events)
    for line, event in zip(raw, events, strict=True):
        parsed = parse_rfc5424(line)  # every line is a valid RFC 5424 message
        assert (parsed.facility, parsed.severity) == (16, syslog_severity(event))
        assert parsed.timestamp == event.event_time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert (parsed.hostname, parsed.app_name, parsed.procid, parsed.msgid) == (
            "pf-node-1", "prismaflow", "-", "ALERT"
        )
        assert parse_sd(parsed.structured_data) == {
            "prismaflow@32473": {"alertId": event.alert_id, "note": 'q"\\]'}
        }
        assert parsed.msg is not None
        cef = parse_cef(parsed.msg.decode("utf-8"))  # ... carrying a valid CEF line
        assert cef.name == event.policy_name
        assert cef.extension["externalId"] == event.event_id
        assert cef.extension["request"] == CONSOLE.format(event.alert_id)
        assert cef.extension.get("msg") == (event.summary.replace("\r\n", "\n") or None)
        assert cef_labelled(cef)["alertId"] == event.alert_id
        assert cef_labelled(cef).get("cloudRegion") == (event.region or None)
    # rsyslog's own parser agrees on the header fields.
    for record, event in zip(server.parsed(), events, strict=True):
        assert record["pri"] == str(16 * 8 + syslog_severity(event))
        assert (record["hostname"], record["app"], record["procid"], record["msgid"]) == (
            "pf-node-1", "prismaflow", "-", "ALERT"
        )
        assert record["sd"].startswith("[prismaflow@32473 ")
        assert record["msg"].startswith("CEF:0|Prismaflow|Prismaflow|")
        assert datetime.fromisoformat(record["timestamp"]) == event.event_time


async def test_cef_over_tcp_reaches_rsyslog_intact(rsyslog: RsyslogFactory) -> None:
    server = rsyslog(tls=False)
    events = _events()
    async with SyslogClient(_settings(server)) as client:
        await client.send_many([_message(e) for e in events])
    await asyncio.to_thread(_check_delivery, server, events)


async def test_cef_over_tls_reaches_rsyslog_intact(rsyslog: RsyslogFactory) -> None:
    server = rsyslog(tls=True)
    events = _events()
    settings = _settings(server, tls=True, ca_file=server.cert, server_name="localhost")
    async with SyslogClient(settings) as client:
        await client.send_many([_message(e) for e in events[:1]])
        await client.send_many([_message(e) for e in events[1:]])
    await asyncio.to_thread(_check_delivery, server, events)
    await asyncio.sleep(0.2)
    # The client closes with close_notify, so rsyslog logs no "non-properly terminated" session.
    assert "non-properly terminated" not in server.stderr()


async def test_client_reconnects_to_a_restarted_rsyslog(rsyslog: RsyslogFactory) -> None:
    first = rsyslog(tls=False)
    events = _events()
    async with SyslogClient(_settings(first)) as client:
        await client.send_many([_message(events[0])])
        await asyncio.to_thread(first.wait_for, 1)
        await asyncio.to_thread(first.stop)
        second = await asyncio.to_thread(rsyslog, tls=False, port=first.port)
        await asyncio.sleep(0.2)  # let the client's loop see the old connection's EOF
        await client.send_many([_message(e) for e in events[1:]])
        assert client.connects == 2
    await asyncio.to_thread(_check_delivery, second, events[1:])


