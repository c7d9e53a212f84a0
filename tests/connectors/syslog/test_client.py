"""The syslog sender against in-process TCP/TLS receivers: framing, reconnect, backoff, TLS checks."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.base import AuthenticationError, RetryPolicy, TransientError
from connectors.syslog.client import SyslogClient, SyslogMessage, SyslogSettings
from connectors.syslog.rfc5424 import split_octet_counted
from tests.connectors.syslog.conftest import make_self_signed
from tests.connectors.syslog.support import parse_rfc5424

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


class Receiver:
    """An asyncio syslog receiver that splits octet-counted frames and can hang up on demand."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        buffer = b""
        try:
            while chunk := await reader.read(65536):
                buffer += chunk
                frames, buffer = split_octet_counted(buffer)
                self.frames.extend(frames)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def start(self, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", port, ssl=ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]

    async def hang_up(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.hang_up()
            await self.server.wait_closed()

    async def wait_for(self, count: int) -> list[bytes]:
        for _ in range(200):
            if len(self.frames) >= count:
                return self.frames
            await asyncio.sleep(0.01)
        raise AssertionError(f"received {len(self.frames)} of {count} frames")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    yield server
    await server.stop()


class Sleeps:
    def __init__(self) -> None:
        self.values: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.values.append(seconds)


def _settings(port: int, **overrides: object) -> SyslogSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": port, "tls": False, "hostname": "pf-test", "app_name": "prismaflow",
        "retry": RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=4.0),
    }
    values.update(overrides)
    return SyslogSettings(**values)  # type: ignore[arg-type]


def _messages(n: int) -> list[SyslogMessage]:
    return [
        SyslogMessage(f"CEF:0|P|P|1|s|n {i}|5|msg=line\\nbreak", severity=4, msgid="ALERT", timestamp=WHEN)
        for i in range(n)
    ]


async def test_batch_arrives_in_order_as_valid_frames(receiver: Receiver) -> None:
    await receiver.start()
    async with SyslogClient(_settings(receiver.port, facility=4)) as client:
        await client.send_many(_messages(3))
        await client.send_many([])  # nothing to do, no error
    frames = await receiver.wait_for(3)
    parsed = [parse_rfc5424(f) for f in frames]
    assert [p.msg for p in parsed] == [f"CEF:0|P|P|1|s|n {i}|5|msg=line\\nbreak".encode() for i in range(3)]
    assert {(p.facility, p.severity, p.hostname, p.app_name, p.msgid) for p in parsed} == {
        (4, 4, "pf-test", "prismaflow", "ALERT")
    }
    assert parsed[0].timestamp == "2026-01-02T03:04:05.678Z"
    assert receiver.connections == 1


async def test_reconnects_after_the_receiver_hung_up(receiver: Receiver) -> None:
    await receiver.start()
    sleeps = Sleeps()
    async with SyslogClient(_settings(receiver.port), sleep=sleeps) as client:
        await client.send_many(_messages(1))
        await receiver.wait_for(1)
        await receiver.hang_up()
        await client.send_many(_messages(2))
        await receiver.wait_for(3)
        assert client.connects == 2
    assert receiver.connections == 2
    assert sleeps.values == []  # a noticed hang-up reconnects at once


async def test_unreachable_receiver_raises_transient_after_backoff() -> None:
    probe = Receiver()
    await probe.start()
    port = probe.port
    await probe.stop()  # nothing listens there now
    sleeps = Sleeps()
    client = SyslogClient(_settings(port), sleep=sleeps, rng=lambda: 0.5)
    with pytest.raises(TransientError) as caught:
        await client.send_many(_messages(1))
    assert caught.value.path == f"127.0.0.1:{port}"
    assert isinstance(caught.value.__cause__, OSError)
    # full jitter with rng=0.5: 0.5 * min(4, 0.5 * 2**retry)
    assert sleeps.values == [0.25, 0.5]


async def test_receiver_coming_back_during_backoff_gets_the_batch(receiver: Receiver) -> None:
    probe = Receiver()
    await probe.start()
    port = probe.port
    await probe.stop()

    async def sleep_then_start(seconds: float) -> None:
        if receiver.server is None:
            await receiver.start(port=port)

    async with SyslogClient(_settings(port), sleep=sleep_then_start) as client:
        await client.send_many(_messages(2))
    assert len(await receiver.wait_for(2)) == 2


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return make_self_signed(tmp_path)


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context


async def test_tls_with_the_ca_file(receiver: Receiver, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    await receiver.start(_server_context(cert, key))
    settings = _settings(receiver.port, tls=True, ca_file=cert, server_name="localhost")
    async with SyslogClient(settings) as client:
        await client.send_many(_messages(2))
    assert len(await receiver.wait_for(2)) == 2


async def test_tls_rejects_an_untrusted_certificate(receiver: Receiver, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    await receiver.start(_server_context(cert, key))
    sleeps = Sleeps()
    client = SyslogClient(_settings(receiver.port, tls=True, server_name="localhost"), sleep=sleeps)
    with pytest.raises(AuthenticationError, match="certificate"):
        await client.send_many(_messages(1))
    assert sleeps.values == []  # no retry: a configuration problem


async def test_tls_checks_the_host_name(receiver: Receiver, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    await receiver.start(_server_context(cert, key))
    client = SyslogClient(_settings(receiver.port, tls=True, ca_file=cert, server_name="other.example"))
    with pytest.raises(AuthenticationError):
        await client.send_many(_messages(1))


async def test_verify_off_is_possible_and_logged(
    receiver: Receiver, certificate: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = certificate
    await receiver.start(_server_context(cert, key))
    async with SyslogClient(_settings(receiver.port, tls=True, verify=False)) as client:
        await client.send_many(_messages(1))
    assert "verification disabled" in caplog.text
    await receiver.wait_for(1)


def test_settings_defaults_are_safe() -> None:
    settings = SyslogSettings(host="siem.example")
    assert settings.tls and settings.verify and settings.port == 6514
    with pytest.raises(ValidationError):
        SyslogSettings(host="siem.example", colour="blue")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SyslogSettings(host="siem.example", facility=24)


def test_missing_ca_file_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SyslogClient(SyslogSettings(host="x", ca_file=tmp_path / "nope.pem"))


def test_long_messages_are_cut_to_max_octets() -> None:
    client = SyslogClient(_settings(1, max_message_octets=600))
    frame = client.encode(SyslogMessage("x" * 5000))
    frames, rest = split_octet_counted(frame)
    assert rest == b"" and len(frames[0]) == 600


