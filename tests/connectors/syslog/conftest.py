"""A real rsyslog receiver for the syslog integration tests, started per test in a temp folder.

``rsyslog`` starts ``rsyslogd -n -f <conf> -i <pidfile>`` in the foreground with its own config,
pid file and work directory (never the system service), listening with ``imtcp`` on 127.0.0.1 on a
port the OS picks (written to a port file) or the one asked for, and writing every message twice:
``%rawmsg%`` to ``out.raw.log`` and a JSON line of the parsed RFC 5424 fields to ``out.json.log``.
TLS uses the GnuTLS network stream driver and a self-signed certificate made with ``openssl``.

Needs the Debian packages ``rsyslog``, ``rsyslog-gnutls`` and ``openssl``. When one is missing,
the tests FAIL with the install command: they are never skipped.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

APT_HINT = "install the Debian packages: apt-get install -y rsyslog rsyslog-gnutls openssl"
GTLS_MODULE_GLOB = "lmnsd_gtls.so"


def _rsyslogd() -> str:
    found = shutil.which("rsyslogd") or next(
        (p for p in ("/usr/sbin/rsyslogd", "/sbin/rsyslogd") if Path(p).exists()), None
    )
    if found is None:
        pytest.fail(f"rsyslogd not found; the syslog integration tests need it: {APT_HINT}")
    return found


def _gtls_available() -> bool:
    roots = [Path("/usr/lib"), Path("/usr/lib64"), Path("/lib")]
    return any(any(root.glob(f"**/rsyslog/{GTLS_MODULE_GLOB}")) for root in roots if root.exists())


def make_self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost``/127.0.0.1 and its key, made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail(f"openssl not found; the TLS tests need it to make a certificate: {APT_HINT}")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
            "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class Rsyslog:
    """One running rsyslogd and the files it writes."""

    workdir: Path
    port: int
    tls: bool
    process: subprocess.Popen[bytes]
    cert: Path | None = None
    raw_log: Path = field(init=False)
    json_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.raw_log = self.workdir / "out.raw.log"
        self.json_log = self.workdir / "out.json.log"

    def _lines(self, path: Path) -> list[bytes]:
        if not path.exists():
            return []
        return [line for line in path.read_bytes().split(b"\n") if line]

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[bytes]:
        """The raw messages once ``count`` have been written (rsyslog writes asynchronously)."""
        deadline = time.monotonic() + timeout_s
        while True:
            raw = self._lines(self.raw_log)
            if len(raw) >= count and len(self._lines(self.json_log)) >= count:
                return raw
            if self.process.poll() is not None:
                pytest.fail(f"rsyslogd exited with {self.process.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"rsyslog wrote {len(raw)} of {count} messages in {timeout_s}s; "
                    f"stderr: {self.stderr()}"
                )
            time.sleep(0.05)

    def parsed(self) -> list[dict[str, str]]:
        """The JSON lines: rsyslog's own parse of each message (pri, hostname, app, ...)."""
        return [json.loads(line) for line in self._lines(self.json_log)]

    def stderr(self) -> str:
        path = self.workdir / "rsyslogd.stderr"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


_JSON_TEMPLATE = """template(name="json" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}"""


def _config(workdir: Path, port: int, tls: bool, cert: Path | None, key: Path | None) -> str:
    if tls:
        assert cert is not None and key is not None
        global_ = (
            f'global(workDirectory="{workdir}/work" defaultNetstreamDriver="gtls"\n'
            f'       defaultNetstreamDriverCAFile="{cert}"\n'
            f'       defaultNetstreamDriverCertFile="{cert}"\n'
            f'       defaultNetstreamDriverKeyFile="{key}")\n'
            # anon: no *client* authentication; loopback tests only (the client still verifies
            # the server's certificate against cert.pem).
            'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1"'
            ' streamDriver.authMode="anon")\n'
        )
    else:
        global_ = f'global(workDirectory="{workdir}/work")\nmodule(load="imtcp")\n'
    return (
        global_
        + 'template(name="raw" type="string" string="%rawmsg%\\n")\n'
        + _JSON_TEMPLATE
        + "\n"
        + 'ruleset(name="capture") {\n'
        + f'  action(type="omfile" file="{workdir}/out.raw.log" template="raw")\n'
        + f'  action(type="omfile" file="{workdir}/out.json.log" template="json")\n'
        + "}\n"
        + f'input(type="imtcp" address="127.0.0.1" port="{port}"'
        + f' listenPortFileName="{workdir}/port" ruleset="capture")\n'
    )


RsyslogFactory = Callable[..., Rsyslog]


def _listening_port(port_file: Path, port: int) -> int | None:
    if port == 0:
        text = port_file.read_text().strip() if port_file.exists() else ""
        return int(text) if text else None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return port
    except OSError:
        return None


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[RsyslogFactory]:
    """Start rsyslogd receivers: ``rsyslog(tls=False, port=0)``; all are stopped afterwards."""
    binary = _rsyslogd()
    started: list[Rsyslog] = []
    certs: dict[str, Path] = {}

    def start(*, tls: bool = False, port: int = 0) -> Rsyslog:
        workdir = tmp_path / f"rsyslog{len(started)}"
        (workdir / "work").mkdir(parents=True)
        cert = key = None
        if tls:
            if not _gtls_available():
                pytest.fail(f"rsyslog's GnuTLS driver (lmnsd_gtls.so) is missing: {APT_HINT}")
            if "cert" not in certs:
                certs["cert"], certs["key"] = make_self_signed(tmp_path)
            cert, key = certs["cert"], certs["key"]
        conf = workdir / "rsyslog.conf"
        conf.write_text(_config(workdir, port, tls, cert, key))
        check = subprocess.run(
            [binary, "-N1", "-f", str(conf)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            pytest.fail(f"rsyslogd rejected the config: {check.stdout}{check.stderr}")
        stderr = (workdir / "rsyslogd.stderr").open("wb")
        process = subprocess.Popen(
            [binary, "-n", "-f", str(conf), "-i", str(workdir / "rsyslogd.pid")],
            stdout=stderr,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        stderr.close()
        # rsyslog writes the port file only for port 0; for a fixed port, probe until it accepts.
        port_file = workdir / "port"
        deadline = time.monotonic() + 15
        while (listening := _listening_port(port_file, port)) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                text = (workdir / "rsyslogd.stderr").read_text(errors="replace")
                pytest.fail(f"rsyslogd did not start listening: {text[-2000:]}")
            time.sleep(0.05)
        server = Rsyslog(workdir, listening, tls, process, cert)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
