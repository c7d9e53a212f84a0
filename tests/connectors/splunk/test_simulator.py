"""The HEC simulator on its own: auth order, parsing, validation codes, channels, acks, health."""

from __future__ import annotations

import base64
import gzip

import httpx
import pytest

from connectors.splunk.simulator import HecSimulator
from connectors.splunk.simulator.__main__ import build
from tests.connectors.splunk.conftest import ACK_TOKEN, CHANNEL, HEC, TOKEN, SimFactory

EVENT = f"{HEC}/services/collector/event"
AUTH = {"Authorization": f"Splunk {TOKEN}"}


@pytest.mark.parametrize(("headers", "params", "status", "code"), [
    ({}, {}, 401, 2),
    ({"Authorization": f"Bearer {TOKEN}"}, {}, 401, 3),
    ({"Authorization": "Splunk nope"}, {}, 403, 4),
    ({}, {"token": TOKEN}, 400, 16),
    ({}, {"token": "nope"}, 403, 4),
])
async def test_auth_order(http: httpx.AsyncClient, headers: dict[str, str],
                          params: dict[str, str], status: int, code: int) -> None:
    response = await http.post(EVENT, content=b'{"event":"x"}', headers=headers, params=params)
    assert (response.status_code, response.json()["code"]) == (status, code)


async def test_basic_auth_with_token_as_password(http: httpx.AsyncClient) -> None:
    basic = base64.b64encode(f"x:{TOKEN}".encode()).decode()
    response = await http.post(EVENT, content=b'{"event":"x"}',
                               headers={"Authorization": f"Basic {basic}"})
    assert response.json() == {"text": "Success", "code": 0}


@pytest.mark.parametrize(("body", "code", "number"), [
    (b'{"event":"a"}{"time":1}', 12, 1),
    (b'{"event":""}', 13, 0),
    (b'{"event":"a"}{"event":"b",', 6, 1),
    (b'{"event":"a","fields":{"k":{"nested":1}}}', 15, 0),
    (b'{"event":"a"} {"event":"b","index":"nope"}', 7, 1),
])
async def test_validation_codes(http: httpx.AsyncClient, sim: HecSimulator, body: bytes,
                                code: int, number: int) -> None:
    response = await http.post(EVENT, content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["invalid-event-number"] == number
    assert sim.events == []  # all-or-nothing by default


async def test_partial_batches_when_switched(make_sim: SimFactory) -> None:
    sim = make_sim(all_or_nothing=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        await http.post(EVENT, content=b'{"event":"a"}\n{"time":1}', headers=AUTH)
    assert [e["event"] for e in sim.events] == ["a"]


async def test_concatenated_gzip_events_with_defaults(http: httpx.AsyncClient,
                                                      sim: HecSimulator) -> None:
    body = gzip.compress(b'{"event":{"a":1},"time":"1767323045.5"}\n\n{"event":"b","index":"security"}')
    response = await http.post(EVENT, content=body,
                               headers={**AUTH, "Content-Encoding": "gzip"})
    assert response.json()["code"] == 0
    assert [(e["event"], e["index"], e["batch"]) for e in sim.events] == [
        ({"a": 1}, "main", 0), ("b", "security", 0)]
    assert sim.events[0]["time"] == 1767323045.5
    listing = (await http.get(f"{HEC}/_sim/events")).json()
    assert listing["batches"][0]["events"] == 2 and listing["batches"][0]["gzip"]


async def test_empty_body_and_413(make_sim: SimFactory) -> None:
    sim = make_sim(max_content_length=100)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        empty = await http.post(EVENT, content=b"", headers=AUTH)
        assert (empty.status_code, empty.json()["code"]) == (400, 5)
        big = await http.post(EVENT, content=b'{"event":"' + b"x" * 200 + b'"}', headers=AUTH)
        assert big.status_code == 413


async def test_channels_and_acks(http: httpx.AsyncClient) -> None:
    ack = {"Authorization": f"Splunk {ACK_TOKEN}"}
    missing = await http.post(EVENT, content=b'{"event":"a"}', headers=ack)
    assert missing.json()["code"] == 10
    bad = await http.post(EVENT, content=b'{"event":"a"}',
                          headers={**ack, "X-Splunk-Request-Channel": "not-a-guid"})
    assert bad.json()["code"] == 11
    first = await http.post(EVENT, content=b'{"event":"a"}', params={"channel": CHANNEL},
                            headers=ack)
    second = await http.post(EVENT, content=b'{"event":"b"}',
                             headers={**ack, "X-Splunk-Request-Channel": CHANNEL})
    assert (first.json()["ackId"], second.json()["ackId"]) == (0, 1)
    status = await http.post(f"{HEC}/services/collector/ack", json={"acks": [0, 1, 7]},
                             headers={**ack, "X-Splunk-Request-Channel": CHANNEL})
    assert status.json() == {"acks": {"0": True, "1": True, "7": False}}
    again = await http.post(f"{HEC}/services/collector/ack", json={"acks": [0]},
                            headers={**ack, "X-Splunk-Request-Channel": CHANNEL})
    assert again.json() == {"acks": {"0": False}}  # forgotten once reported
    disabled = await http.post(f"{HEC}/services/collector/ack", json={"acks": [0]},
                               headers={**AUTH, "X-Splunk-Request-Channel": CHANNEL})
    assert disabled.json()["code"] == 14


async def test_raw_needs_a_channel(http: httpx.AsyncClient, sim: HecSimulator) -> None:
    raw = f"{HEC}/services/collector/raw"
    assert (await http.post(raw, content=b"line", headers=AUTH)).json()["code"] == 10
    ok = await http.post(raw, content=b"one\ntwo\n", params={"channel": CHANNEL,
                                                             "sourcetype": "syslog"},
                         headers=AUTH)
    assert ok.json()["code"] == 0
    assert [(e["event"], e["sourcetype"]) for e in sim.events] == [("one", "syslog"),
                                                                  ("two", "syslog")]


async def test_faults_health_and_stats(http: httpx.AsyncClient, sim: HecSimulator) -> None:
    assert (await http.get(f"{HEC}/services/collector/health")).json()["code"] == 17
    await http.post(f"{HEC}/_sim/faults", json=[{"kind": "busy", "route": "event"},
                                                {"kind": "500", "route": "event"}])
    busy = await http.post(EVENT, content=b'{"event":"a"}', headers=AUTH)
    assert (busy.status_code, busy.json()) == (503, {"text": "Server is busy", "code": 9})
    error = await http.post(EVENT, content=b'{"event":"a"}', headers=AUTH)
    assert (error.status_code, error.json()["code"]) == (500, 8)
    stats = (await http.get(f"{HEC}/_sim/stats")).json()["routes"]
    assert stats["POST event"]["statuses"] == {"503": 1, "500": 1}
    sim.config.health_code = 19
    assert (await http.get(f"{HEC}/services/collector/health")).json()["code"] == 17
    unhealthy = await http.get(f"{HEC}/services/collector/health", params={"ack": "true"})
    assert (unhealthy.status_code, unhealthy.json()["code"]) == (503, 19)


def test_cli_builds_a_simulator() -> None:
    sim, args = build(["--port", "8288", "--token", "t-1", "--ack-token", "t-2",
                       "--max-content-length", "5000"])
    assert args.port == 8288
    assert not sim.config.tokens["t-1"].use_ack and sim.config.tokens["t-2"].use_ack
    assert sim.config.max_content_length == 5000
