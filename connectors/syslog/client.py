"""An asyncio syslog sender over TCP or TLS: RFC 5424 messages in octet-counted frames.

:class:`SyslogClient` keeps one connection to one receiver (rsyslog, syslog-ng, a SIEM collector)
and writes batches to it. It knows nothing of Kafka: the syslog sink hands it a batch with
:meth:`SyslogClient.send_many` and commits offsets only when that returned.

Failure model::

    ConnectorError (connectors.base)
    ├── TransientError       the receiver is unreachable, refused, reset the connection or timed
    │                        out, still so after ``retry.max_attempts`` tries: pause and retry later
    └── AuthenticationError  TLS certificate verification failed: a configuration problem that
                             no retry fixes

Delivery: each attempt reconnects when needed and writes the whole batch again, so a receiver can
see a message twice (at-least-once, like the rest of the pipeline; SIEMs dedupe on ``externalId``).
Plain syslog over TCP/TLS has no application acknowledgement: a batch that reached the kernel
before the receiver died can be lost without an error here. RELP would close that gap; rsyslog's
disk-assisted queues on the receiving side narrow it.

Reconnect backoff is :meth:`connectors.base.RetryPolicy.backoff_s`, full jitter:
``uniform(0, min(max_delay_s, base_delay_s * 2**retry))``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import AsyncClosing, AuthenticationError, RetryPolicy, TransientError
from connectors.syslog.rfc5424 import (
    StructuredData,
    format_rfc5424,
    frame_octet_counted,
)

__all__ = ["SyslogClient", "SyslogMessage", "SyslogSettings"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def _default_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=10.0)


class SyslogSettings(BaseModel):
    """Where to send syslog and how to label it. TLS with certificate verification by default.

    ``ca_file`` None means the system trust store. ``verify=False`` switches off certificate and
    host name checks: for loopback tests only, and logged as a warning. ``facility`` is the RFC
    5424 facility code (16 = local0). ``hostname`` None means this machine's host name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, description="Syslog receiver host")
    port: int = Field(default=6514, ge=1, le=65535, description="Receiver port; 6514 is syslog over TLS")
    tls: bool = Field(default=True, description="Use TLS (certificate verified)")
    ca_file: Path | None = Field(default=None, description="CA bundle for the receiver; unset means the system store")
    verify: bool = Field(default=True, description="Verify the receiver's certificate (off: loopback tests only)")
    client_cert_file: Path | None = Field(default=None, description="Client certificate for mutual TLS")
    client_key_file: Path | None = Field(default=None, description="Client key for mutual TLS")
    server_name: str | None = Field(default=None, description="TLS name to check; default the host")
    facility: int = Field(default=16, ge=0, le=23, description="RFC 5424 facility code (16 = local0)")
    app_name: str = Field(default="prismaflow", min_length=1, max_length=48, description="RFC 5424 APP-NAME")
    hostname: str | None = Field(
        default=None, max_length=255, description="RFC 5424 HOSTNAME; default this machine's name")
    bom: bool = Field(default=False, description="Put a UTF-8 BOM before MSG (off: CEF parsers)")
    max_message_octets: int = Field(default=8192, ge=512, description="Longer MSGs are cut")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one connection attempt")
    write_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of writing one batch")
    retry: RetryPolicy = Field(default_factory=_default_retry)


@dataclass(frozen=True)
class SyslogMessage:
    """One message to send: MSG text (e.g. a CEF line) and its per-message header fields."""

    msg: str
    severity: int = 6
    msgid: str | None = None
    timestamp: datetime | None = None
    procid: str | None = None
    structured_data: StructuredData | None = None


class SyslogClient(AsyncClosing):
    """Sends :class:`SyslogMessage` batches to one receiver over one kept-open connection.

    Use as ``async with SyslogClient(settings) as client: await client.send_many(batch)``. Not
    safe for concurrent ``send_many`` calls (one sink task per client). ``sleep`` and ``rng`` are
    seams so tests need not wait for real backoff.
    """

    def __init__(
        self,
        settings: SyslogSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._hostname = settings.hostname or socket.gethostname()
        self._ssl = self._ssl_context(settings) if settings.tls else None
        self._sleep = sleep
        self._rng = rng
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.connects = 0  # how many connections were opened; tests and metrics read it

    @staticmethod
    def _ssl_context(settings: SyslogSettings) -> ssl.SSLContext:
        """The client TLS context, built once at start-up (a missing CA file fails here)."""
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if settings.client_cert_file is not None:
            context.load_cert_chain(
                str(settings.client_cert_file),
                str(settings.client_key_file) if settings.client_key_file else None,
            )
        if not settings.verify:
            logger.warning(
                "syslog tls verification disabled host=%s port=%d", settings.host, settings.port
            )
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def encode(self, message: SyslogMessage) -> bytes:
        """The octet-counted frame for ``message`` with this client's facility and names."""
        body = format_rfc5424(
            message.msg,
            facility=self.settings.facility,
            severity=message.severity,
            hostname=self._hostname,
            app_name=self.settings.app_name,
            procid=message.procid,
            msgid=message.msgid,
            timestamp=message.timestamp,
            structured_data=message.structured_data,
            bom=self.settings.bom,
            max_octets=self.settings.max_message_octets,
        )
        return frame_octet_counted(body)

    async def _connection(self) -> asyncio.StreamWriter:
        writer, reader = self._writer, self._reader
        if writer is not None and reader is not None:
            # A syslog receiver never sends; EOF or a closing transport means it hung up.
            if not (reader.at_eof() or writer.is_closing()):
                return writer
            logger.info("syslog connection lost, reconnecting where=%s", self._where)
            await self._drop()
        settings = self.settings
        server_name = (settings.server_name or settings.host) if self._ssl else None
        new_reader, new_writer = await asyncio.wait_for(
            asyncio.open_connection(
                settings.host, settings.port, ssl=self._ssl, server_hostname=server_name
            ),
            timeout=settings.connect_timeout_s,
        )
        self._reader, self._writer = new_reader, new_writer
        self.connects += 1
        logger.info("syslog connected where=%s tls=%s", self._where, bool(self._ssl))
        return new_writer

    async def _drop(self) -> None:
        writer = self._writer
        self._reader = self._writer = None
        if writer is None:
            return
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), timeout=2.0)
        except (OSError, TimeoutError, ssl.SSLError):
            pass  # the connection is already broken; nothing to flush

    async def send_many(self, messages: Sequence[SyslogMessage]) -> None:
        """Write every message, in order, to the receiver; return when all reached the socket.

        Reconnects and resends the batch on a connection failure, up to ``retry.max_attempts``
        tries in all. Raises :class:`TransientError` when the receiver stayed unreachable (the
        Kafka sink pauses the partition and retries later), :class:`AuthenticationError` when
        its TLS certificate failed verification.
        """
        if not messages:
            return
        payload = b"".join(self.encode(m) for m in messages)
        policy = self.settings.retry
        last: BaseException | None = None
        started = time.perf_counter()
        for attempt in range(policy.max_attempts):
            try:
                writer = await self._connection()
                writer.write(payload)
                await asyncio.wait_for(writer.drain(), timeout=self.settings.write_timeout_s)
            except ssl.SSLCertVerificationError as exc:
                await self._drop()
                raise AuthenticationError(
                    f"syslog TLS certificate rejected: {exc.verify_message}",
                    method="SYSLOG",
                    path=self._where,
                ) from exc
            except (OSError, TimeoutError, EOFError) as exc:
                await self._drop()
                last = exc
                if attempt + 1 >= policy.max_attempts:
                    break
                delay = policy.backoff_s(attempt, self._rng)
                logger.warning(
                    "syslog retry where=%s attempt=%d delay_s=%.3f reason=%s",
                    self._where, attempt + 1, delay, type(exc).__name__,
                )
                await self._sleep(delay)
            else:
                logger.debug(
                    "syslog sent where=%s count=%d bytes=%d elapsed_s=%.3f",
                    self._where, len(messages), len(payload), time.perf_counter() - started,
                )
                return
        assert last is not None
        raise TransientError(
            f"syslog receiver unavailable after {policy.max_attempts} attempts: "
            f"{type(last).__name__}",
            method="SYSLOG",
            path=self._where,
        ) from last

    async def aclose(self) -> None:
        """Close the connection (TLS: with ``close_notify``). The client can be used again."""
        await self._drop()
