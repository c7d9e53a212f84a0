"""Running the sources from settings: ``prismaflow poll`` and ``prismaflow webhook``.

Switching from the local simulator to a real Prisma Cloud tenant is configuration only: set
``PRISMAFLOW_PRISMA_API_URL`` to the tenant's stack (e.g. ``https://api2.eu.prismacloud.io``),
``PRISMAFLOW_PRISMA_COMPUTE_URL`` to the Compute console path shown under Runtime Security >
System > Utilities, and the access key pair in ``PRISMAFLOW_PRISMA_ACCESS_KEY_ID`` /
``PRISMAFLOW_PRISMA_SECRET_KEY`` (or the files ``prismaflow_prisma_secret_key`` in
``PRISMAFLOW_SECRETS_DIR``). The connector code is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.prisma.settings import PrismaSettings
from processors.errors import ConfigurationError
from streams.settings import KafkaSettings, _Settings

__all__ = ["PrismaConnectionSettings", "run_pollers", "run_webhook"]

log = logging.getLogger(__name__)


class PrismaConnectionSettings(_Settings):
    """Where the pollers reach Prisma Cloud. Defaults point at the local simulator."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_PRISMA_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Prisma Cloud API"

    api_url: str = Field(default="http://127.0.0.1:8181", description="CSPM API base URL (your tenant's api*.prismacloud.io)")
    compute_url: str | None = Field(
        default="http://127.0.0.1:8181", description="Compute console URL; unset disables the Compute poller")
    access_key_id: str = Field(default="sim-access-key", description="Access key ID")
    secret_key: SecretStr = Field(default=SecretStr("sim-secret-key"), description="Secret key (secret)")
    page_size: int = Field(default=1000, ge=1, le=10000, description="/v2/alert page size")

    def client_settings(self) -> PrismaSettings:
        return PrismaSettings(api_url=self.api_url, compute_url=self.compute_url, username=self.access_key_id,
                              password=self.secret_key, page_size=self.page_size)


async def _pollers(stop: asyncio.Event) -> None:
    from connectors.prisma.checkpoint import KafkaCheckpointStore, KafkaPageWriter
    from connectors.prisma.compute_client import ComputeClient
    from connectors.prisma.cspm_client import CspmClient
    from connectors.prisma.source import ComputePoller, CspmPoller, PollerSettings
    from streams.run import build_serde

    kafka, poller = KafkaSettings(), PollerSettings()
    prisma = PrismaConnectionSettings().client_settings()
    serde = build_serde()
    async with contextlib.AsyncExitStack() as stack:
        cspm = await stack.enter_async_context(CspmClient(prisma))
        writer = KafkaPageWriter(kafka, serde, f"prismaflow-poller-cspm-{poller.tenant}")
        stack.callback(writer.close)
        tasks = [CspmPoller(poller, cspm, writer, KafkaCheckpointStore(kafka, serde)).run(stop)]
        if poller.compute_enabled and prisma.compute_url:
            compute = await stack.enter_async_context(ComputeClient(prisma))
            compute_writer = KafkaPageWriter(kafka, serde, f"prismaflow-poller-compute-{poller.tenant}")
            stack.callback(compute_writer.close)
            tasks.append(ComputePoller(poller, compute, compute_writer, KafkaCheckpointStore(kafka, serde)).run(stop))
        await asyncio.gather(*tasks)


def run_pollers() -> int:
    """Poll CSPM (and Compute) until SIGTERM/SIGINT."""
    from connectors.prisma.source import PollerSettings
    from streams.metrics import serve_metrics

    serve_metrics(PollerSettings().metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await _pollers(stop)

    asyncio.run(main())
    return 0


def run_webhook() -> int:
    """Serve the webhook receiver with uvicorn until stopped."""
    import uvicorn
    from starlette.applications import Starlette

    from connectors.prisma.webhook import WebhookSettings, create_webhook_app
    from streams.async_publish import AsyncPublisher
    from streams.run import build_serde

    settings = WebhookSettings()
    if settings.auth_token is None and not settings.allow_unauthenticated:
        raise ConfigurationError("set PRISMAFLOW_WEBHOOK_AUTH_TOKEN (the header value Prisma Cloud will send)")
    holder: dict[str, AsyncPublisher] = {}

    class _LazyPublisher:
        async def send_many(self, records: list[Any]) -> list[Any]:
            return list(await holder["publisher"].send_many(records))

    app = create_webhook_app(settings, _LazyPublisher())

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        holder["publisher"] = AsyncPublisher(
            KafkaSettings(), build_serde(), transactional_id=settings.effective_transactional_id(),
            timeout_s=settings.write_timeout_s, max_record_bytes=settings.max_record_bytes)
        try:
            yield
        finally:
            await holder["publisher"].close()

    app.router.lifespan_context = lifespan
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0
