"""The HEC client against the simulator: batching, gzip, acks, retries, rejections, auth errors."""

from __future__ import annotations

import gzip
import json
import uuid

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from connectors.base import AuthenticationError, RetriesExhaustedError, TransientError
from connectors.simkit import SimClock
from connectors.splunk.client import (
    AckTimeoutError,
    EventTooLargeError,
    HecClient,
    HecRejectedError,
)
from connectors.splunk.events import HecEvent
from connectors.splunk.simulator import Fault, HecSimulator, SimToken
from tests.connectors.splunk.conftest import (
    ACK_TOKEN,
    CHANNEL,
    HEC,
    HecFactory,
    SimFactory,
    make_settings,
)


def events(n: int, *, pad: int = 0, **overrides: object) -> list[HecEvent]:
    return [HecEvent.model_validate({
        "event": {"alert_id": f"P-{i}", "note": "x" * pad}, "time": 1767323045.5 + i,
        "host": "prismaflow", "sourcetype": "prismaflow:alert", "index": "security",
        "key": f"ev-{i}", **overrides}) for i in range(n)]


async def test_send_batches_under_the_byte_limit(sim: HecSimulator, make_client: HecFactory) -> None:
    hec = make_client(sim, max_batch_bytes=4096, gzip=False)
    sent = events(40, pad=300)
    result = await hec.send(sent)
    assert result.sent == 40 and not result.rejected
    assert result.batches == len(sim.batches) > 1
    assert all(batch["bytes"] <= 4096 for batch in sim.batches)
    assert sum(batch["events"] for batch in sim.batches) == 40
    assert [e["event"]["alert_id"] for e in sim.events] == [f"P-{i}" for i in range(40)]
    assert sim.events[0]["time"] == 1767323045.5 and sim.events[0]["index"] == "security"


async def test_send_respects_max_events_per_batch(sim: HecSimulator,
                                                  make_client: HecFactory) -> None:
    result = await make_client(sim, max_batch_events=3).send(events(7))
    assert result.batches == 3
    assert [b["events"] for b in sim.batches] == [3, 3, 1]


async def test_gzip_body_and_header(sim: HecSimulator, make_client: HecFactory) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"text": "Success", "code": 0})

    async with HecClient(make_settings(), client=httpx.AsyncClient(
            transport=httpx.MockTransport(handler))) as hec:
        await hec.send(events(2))
    request = seen[0]
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["authorization"] == "Splunk 11111111-2222-3333-4444-555555555555"
    assert request.url.path == "/services/collector/event"
    lines = gzip.decompress(request.content).decode().split("\n")
    assert [json.loads(line)["event"]["alert_id"] for line in lines] == ["P-0", "P-1"]
    # against the simulator too: it decodes the gzip body
    result = await make_client(sim).send(events(3, pad=500))
    assert result.sent == 3
    assert sim.batches[0]["gzip"] and sim.batches[0]["wire_bytes"] < sim.batches[0]["bytes"]


async def test_oversized_single_event_is_rejected_alone(sim: HecSimulator,
                                                        make_client: HecFactory) -> None:
    hec = make_client(sim, max_batch_bytes=2048)
    batch = events(3)
    batch.insert(1, events(1, pad=5000)[0].model_copy(update={"key": "big"}))
    result = await hec.send(batch)
    assert result.sent == 3
    assert [(r.position, r.key) for r in result.rejected] == [(1, "big")]
    assert isinstance(result.rejected[0].error, EventTooLargeError)


async def test_server_413_splits_then_rejects_a_lone_event(make_sim: SimFactory,
                                                           make_client: HecFactory) -> None:
    sim = make_sim(max_content_length=1500)  # the server's limit is below ours
    hec = make_client(sim, max_batch_bytes=100_000, gzip=False)
    batch = events(6, pad=200) + events(1, pad=3000)
    result = await hec.send(batch)
    assert result.sent == 6
    assert [r.position for r in result.rejected] == [6]
    assert result.rejected[0].error.status_code == 413
    assert all(b["bytes"] <= 1500 for b in sim.batches)


async def test_invalid_event_is_rejected_and_the_rest_resent(sim: HecSimulator,
                                                             make_client: HecFactory) -> None:
    batch = events(4)
    batch[2] = batch[2].model_copy(update={"index": "forbidden"})
    result = await make_client(sim).send(batch)
    assert result.sent == 3
    [rejected] = result.rejected
    assert rejected.position == 2
    assert isinstance(rejected.error, HecRejectedError) and rejected.error.hec_code == 7
    assert rejected.error.invalid_event_number == 2
    assert sorted(e["event"]["alert_id"] for e in sim.events) == ["P-0", "P-1", "P-3"]


async def test_busy_is_retried(sim: HecSimulator, make_client: HecFactory, clock: SimClock) -> None:
    sim.faults.append(Fault(kind="busy", count=2))
    result = await make_client(sim).send(events(2))
    assert result.sent == 2
    assert clock.sleeps == [0.5, 1.0]
    assert sim.stats["POST event"]["codes"] == {"9": 2, "0": 1}


async def test_long_busy_spell_surfaces_as_transient(sim: HecSimulator, make_client: HecFactory,
                                                     clock: SimClock) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        await http.post(f"{HEC}/_sim/faults", json={"kind": "busy", "count": 10})
    with pytest.raises(RetriesExhaustedError) as info:
        await make_client(sim).send(events(1))
    assert isinstance(info.value.last_error, TransientError)
    assert '"code":9' in info.value.body_excerpt


async def test_ack_flow_waits_until_indexed(make_sim: SimFactory, make_client: HecFactory,
                                            clock: SimClock) -> None:
    sim = make_sim(ack_after_polls=3)
    hec = make_client(sim, token=SecretStr(ACK_TOKEN), use_ack=True, channel=uuid.UUID(CHANNEL),
                      max_batch_events=2, ack_poll_interval_s=0.5)
    result = await hec.send(events(5))
    assert result.ack_ids == (0, 1, 2)
    assert sim.stats["POST ack"]["calls"] == 3
    assert clock.sleeps == [0.5, 0.5]
    assert {b["channel"] for b in sim.batches} == {CHANNEL}


async def test_ack_timeout_is_transient(make_sim: SimFactory, make_client: HecFactory,
                                        clock: SimClock) -> None:
    sim = make_sim(ack_after_polls=None)
    hec = make_client(sim, token=SecretStr(ACK_TOKEN), use_ack=True, ack_poll_interval_s=1.0,
                      ack_timeout_s=5.0)
    with pytest.raises(AckTimeoutError) as info:
        await hec.send(events(2))
    assert isinstance(info.value, TransientError)
    assert clock.sleeps == [1.0] * 5  # six polls over the five seconds, then give up


async def test_ack_without_use_ack_on_the_token_is_a_format_error(
    sim: HecSimulator, make_client: HecFactory
) -> None:
    hec = make_client(sim, use_ack=True)  # TOKEN has useACK off: no ackId comes back
    with pytest.raises(Exception, match="no ackId"):
        await hec.send(events(1))


async def test_ack_token_without_channel_is_rejected(make_sim: SimFactory,
                                                     make_client: HecFactory) -> None:
    sim = make_sim()
    hec = make_client(sim, token=SecretStr(ACK_TOKEN))  # client does not send a channel
    with pytest.raises(HecRejectedError) as info:
        await hec.send(events(1))
    assert info.value.hec_code == 10


async def test_invalid_token_is_an_authentication_error(sim: HecSimulator,
                                                        make_client: HecFactory) -> None:
    hec = make_client(sim, token=SecretStr("99999999-9999-9999-9999-999999999999"))
    with pytest.raises(AuthenticationError) as info:
        await hec.send(events(1))
    assert info.value.status_code == 403
    assert '"code":4' in info.value.body_excerpt
    assert "99999999" not in str(info.value)


async def test_disabled_token(make_sim: SimFactory, make_client: HecFactory) -> None:
    sim = make_sim(tokens={"11111111-2222-3333-4444-555555555555": SimToken(disabled=True)})
    with pytest.raises(AuthenticationError, match="Token disabled"):
        await make_client(sim).send(events(1))


async def test_health(make_sim: SimFactory, make_client: HecFactory) -> None:
    healthy = await make_client(make_sim()).health()
    assert healthy.healthy and healthy.code == 17
    sick = await make_client(make_sim(health_code=18)).health()
    assert not sick.healthy and sick.code == 18 and "queues are full" in sick.text


def test_settings_validation() -> None:
    with pytest.raises(ValidationError):
        make_settings(use_ack=True, ack_poll_interval_s=10, ack_timeout_s=1)
    with pytest.raises(ValidationError):
        make_settings(batch_size=3)
    with pytest.raises(ValidationError):
        make_settings(token=SecretStr(""))
    assert "1111" not in repr(make_settings())


async def test_empty_send_does_nothing(sim: HecSimulator, make_client: HecFactory) -> None:
    result = await make_client(sim).send([])
    assert (result.sent, result.batches) == (0, 0)
    assert sim.stats == {}
