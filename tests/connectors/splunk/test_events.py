"""The pure SIEM-event mapper and the HEC envelope."""

from __future__ import annotations

import json

from connectors.splunk.events import HecEvent, siem_event_to_hec
from connectors.splunk.settings import HecRoute
from processors.models import Module, RiskTier, Severity
from tests.connectors.splunk.conftest import make_settings
from tests.factories import make_siem_event


def test_mapper_fields() -> None:
    event = make_siem_event()
    hec = siem_event_to_hec(event, make_settings())
    assert hec.time == event.event_time.timestamp()
    assert (hec.index, hec.sourcetype, hec.source, hec.host) == (
        "security", "prismaflow:alert", "prismaflow", "prismaflow")
    assert isinstance(hec.event, dict)
    assert hec.event["alert_id"] == event.alert_id and hec.event["score"] == 87
    assert hec.event["tier"] == "critical" and hec.event["module"] == "CSPM"
    assert hec.fields == {"module": "CSPM", "tier": "critical", "severity": "high",
                          "status": "open", "cloud": "aws"}
    assert hec.key == event.event_id


def test_routing_first_match_wins_and_keeps_defaults() -> None:
    settings = make_settings(routes=[
        HecRoute(module=Module.CWPP, index="workloads"),
        HecRoute(tier=RiskTier.CRITICAL, index="sec_critical", sourcetype="prismaflow:critical"),
        HecRoute(severity=Severity.HIGH, index="never"),
    ])
    critical = siem_event_to_hec(make_siem_event(), settings)
    assert (critical.index, critical.sourcetype) == ("sec_critical", "prismaflow:critical")
    cwpp = siem_event_to_hec(make_siem_event(module=Module.CWPP), settings)
    assert (cwpp.index, cwpp.sourcetype) == ("workloads", "prismaflow:alert")
    low = siem_event_to_hec(make_siem_event(tier=RiskTier.LOW, severity=Severity.LOW), settings)
    assert low.index == "security"


def test_envelope_leaves_out_unset_keys() -> None:
    event = HecEvent(event="plain text", time=1767323045.6789)
    assert json.loads(event.encode()) == {"time": 1767323045.679, "event": "plain text"}
    assert "key" not in json.loads(siem_event_to_hec(make_siem_event(), make_settings()).encode())


def test_ticket_key_none_is_left_out_of_the_event() -> None:
    hec = siem_event_to_hec(make_siem_event(ticket_key=None), make_settings())
    assert isinstance(hec.event, dict) and "ticket_key" not in hec.event
