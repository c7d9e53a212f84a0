"""The registry client's TLS settings against a registry behind mutual TLS.

The registry is the session's real Apicurio; in front of it, a TLS terminator (Python's ``ssl``)
with a server certificate from a test CA that requires a client certificate from that CA, as a
managed registry (or an ingress in front of one) does. The certificates are made by ``openssl``.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from streams.cli import main
from streams.devtools.registry import LocalSchemaRegistry
from streams.topics import ALERTS

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not found; install the Debian package openssl (make test does)")
    subprocess.run([openssl, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, both from the CA."""
    folder = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=prismaflow-test-ca", cwd=folder)
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, extra in (("server", ["-extfile", "server.ext"]), ("client", [])):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=prismaflow-{name}", cwd=folder)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", *extra, cwd=folder)
    return Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "client.pem",
               folder / "client.key")


class MutualTlsProxy:
    """Terminates TLS (client certificate required) on a free port and forwards to ``target``."""

    def __init__(self, target: tuple[str, int], pki: Pki) -> None:
        self._target = target
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
        self._context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(lambda loop, context: None)  # refused handshakes are the point
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._thread = threading.Thread(target=self._loop.run_forever, name="tls-proxy", daemon=True)
        self._thread.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with suppress(ConnectionError, ssl.SSLError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        for stream in (writer, up_writer):
            with suppress(ConnectionError, ssl.SSLError):
                await stream.wait_closed()

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def tls_registry_url(schema_registry: LocalSchemaRegistry, pki: Pki) -> Iterator[str]:
    address = urlsplit(schema_registry.url)
    proxy = MutualTlsProxy((address.hostname or "127.0.0.1", address.port or 80), pki)
    try:
        yield f"https://127.0.0.1:{proxy.port}{address.path}"
    finally:
        proxy.stop()


def test_the_commands_reach_a_mutual_tls_registry_with_the_ca_and_client_certificate_settings(
    tls_registry_url: str, schema_registry: LocalSchemaRegistry, pki: Pki, unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = unique_name("tls") + "."
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", tls_registry_url)
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("SCHEMA_REGISTRY_SSL_CA_LOCATION", str(pki.ca))
    monkeypatch.setenv("SCHEMA_REGISTRY_SSL_CERTIFICATE_LOCATION", str(pki.client_cert))
    monkeypatch.setenv("SCHEMA_REGISTRY_SSL_KEY_LOCATION", str(pki.client_key))

    assert main(["schemas", "register"]) == 0
    assert "FAIL" not in capsys.readouterr().out
    with SchemaRegistryClient({"url": schema_registry.url}) as plain:  # behind the proxy, for the check
        assert f"{prefix}{ALERTS.name}-value" in plain.get_subjects()

    monkeypatch.delenv("SCHEMA_REGISTRY_SSL_CERTIFICATE_LOCATION")
    monkeypatch.delenv("SCHEMA_REGISTRY_SSL_KEY_LOCATION")
    assert main(["schemas", "check"]) == 2  # the registry wants a client certificate
    assert "schema registry unreachable" in capsys.readouterr().err

    monkeypatch.delenv("SCHEMA_REGISTRY_SSL_CA_LOCATION")
    assert main(["schemas", "check"]) == 2  # the system trust store does not know the test CA
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
