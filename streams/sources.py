"""Running the sources from settings: ``prismaflow poll`` and ``prismaflow webhook``.

Switching from the local simulator to a real Prisma Cloud tenant is configuration only: set
``PRISMAFLOW_PRISMA_API_URL`` to the tenant's stack (e.g. ``https://api2.eu.prismacloud.io``),
``PRISMAFLOW_PRISMA_COMPUTE_URL`` to the Compute console path shown under Runtime Security >
System > Utilities, and the access key pair in ``PRISMAFLOW_PRISMA_ACCESS_KEY_ID`` /
``PRISMAFLOW_PRISMA_SECRET_KEY`` (or the files ``prismaflow_prisma_secret_key`` in
``PRISMAFLOW_SECRETS_DIR``). The connector code is the same.

``PRISMAFLOW_WORKER_TOPIC_PREFIX`` applies here as everywhere: the pollers and the receiver write
to ``<prefix><topic>`` (the raw topic, the DLQ and the checkpoint topic named by their settings),
and the pollers' transactional ids carry the prefix, so side-by-side deployments on one cluster
neither share topics nor fence each other's transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.prisma.settings import PrismaSettings
from processors.errors import ConfigurationError
from streams.process import AsyncStopper, run_until_signalled
from streams.settings import KafkaSettings, _Settings
from streams.topics import SOURCE_CHECKPOINTS

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from connectors.prisma.source import PollerSettings
    from connectors.prisma.webhook import WebhookSettings

__all__ = ["PrismaConnectionSettings", "build_webhook_app", "poller_settings", "run_pollers", "run_webhook",
           "topic_prefix", "webhook_settings"]

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


def topic_prefix() -> str:
    """``PRISMAFLOW_WORKER_TOPIC_PREFIX``: the prefix of every topic name of this deployment."""
    from streams.run import WorkerSettings

    return WorkerSettings().topic_prefix


def poller_settings(prefix: str | None = None) -> PollerSettings:
    """The pollers' settings from the environment, their raw and DLQ topics under the topic prefix."""
    from connectors.prisma.source import PollerSettings

    settings, prefix = PollerSettings(), topic_prefix() if prefix is None else prefix
    return settings.model_copy(update={"raw_topic": prefix + settings.raw_topic,
                                       "dlq_topic": prefix + settings.dlq_topic})


def webhook_settings(prefix: str | None = None) -> WebhookSettings:
    """The receiver's settings from the environment, its raw and DLQ topics under the topic prefix."""
    from connectors.prisma.webhook import WebhookSettings

    settings, prefix = WebhookSettings(), topic_prefix() if prefix is None else prefix
    return settings.model_copy(update={"raw_topic": prefix + settings.raw_topic,
                                       "dlq_topic": prefix + settings.dlq_topic})


async def _pollers(stop: asyncio.Event, broker_stop: threading.Event | None = None) -> None:
    from connectors.prisma.checkpoint import KafkaCheckpointStore, KafkaPageWriter
    from connectors.prisma.compute_client import ComputeClient
    from connectors.prisma.cspm_client import CspmClient
    from connectors.prisma.source import ComputePoller, CspmPoller
    from streams.run import build_serde

    prefix = topic_prefix()
    kafka, poller, checkpoints = KafkaSettings(), poller_settings(prefix), prefix + SOURCE_CHECKPOINTS.name
    prisma = PrismaConnectionSettings().client_settings()
    serde = build_serde()
    async with contextlib.AsyncExitStack() as stack:
        cspm = await stack.enter_async_context(CspmClient(prisma))
        writer = KafkaPageWriter(kafka, serde, f"{prefix}prismaflow-poller-cspm-{poller.tenant}",
                                 checkpoint_topic=checkpoints, stop=broker_stop)
        stack.callback(writer.close)
        store = KafkaCheckpointStore(kafka, serde, checkpoint_topic=checkpoints)
        tasks = [CspmPoller(poller, cspm, writer, store).run(stop)]
        if poller.compute_enabled and prisma.compute_url:
            compute = await stack.enter_async_context(ComputeClient(prisma))
            compute_writer = KafkaPageWriter(kafka, serde, f"{prefix}prismaflow-poller-compute-{poller.tenant}",
                                             checkpoint_topic=checkpoints, stop=broker_stop)
            stack.callback(compute_writer.close)
            compute_store = KafkaCheckpointStore(kafka, serde, checkpoint_topic=checkpoints)
            tasks.append(ComputePoller(poller, compute, compute_writer, compute_store).run(stop))
        await asyncio.gather(*tasks)


def run_pollers() -> int:
    """Poll CSPM (and Compute) until SIGTERM/SIGINT."""
    from streams.metrics import HEALTH, beat_while_running, broker_check, serve_metrics

    settings = poller_settings()
    HEALTH.add_check("broker", broker_check(KafkaSettings().client_config(), [settings.raw_topic, settings.dlq_topic]))
    serve_metrics(settings.metrics_port, settings.metrics_addr)

    stopper = AsyncStopper()

    async def main() -> None:
        stop = stopper.bind()
        beating = asyncio.create_task(beat_while_running(stop))
        try:
            await _pollers(stop, stopper.threading_event)
        finally:
            beating.cancel()

    return run_until_signalled(lambda: asyncio.run(main()), stopper.stop, name="poll")


def build_webhook_app(settings: WebhookSettings, kafka: KafkaSettings) -> Starlette:
    """The receiver app; its Kafka publisher opens and closes with the app's lifespan."""
    from starlette.applications import Starlette

    from connectors.prisma.webhook import create_webhook_app
    from streams.async_publish import AsyncPublisher
    from streams.run import build_serde

    holder: dict[str, AsyncPublisher] = {}

    class _LazyPublisher:
        async def send_many(self, records: list[Any]) -> list[Any]:
            return list(await holder["publisher"].send_many(records))

    app = create_webhook_app(settings, _LazyPublisher())

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        holder["publisher"] = AsyncPublisher(
            kafka, build_serde(), transactional_id=settings.effective_transactional_id(),
            timeout_s=settings.write_timeout_s, max_record_bytes=settings.max_record_bytes)
        try:
            yield
        finally:
            await holder["publisher"].close()

    app.router.lifespan_context = lifespan
    return app


def run_webhook() -> int:
    """Serve the webhook receiver with uvicorn until stopped."""
    import uvicorn

    settings = webhook_settings()
    if settings.auth_token is None and not settings.allow_unauthenticated:
        raise ConfigurationError("set PRISMAFLOW_WEBHOOK_AUTH_TOKEN (the header value Prisma Cloud will send)")
    log.info("webhook receiver raw_topic=%s dlq_topic=%s", settings.raw_topic, settings.dlq_topic)
    # In-flight requests get a bounded time to finish on SIGTERM (each answers within its own timeout).
    uvicorn.run(build_webhook_app(settings, KafkaSettings()), host=settings.host, port=settings.port,
                log_level="info", timeout_graceful_shutdown=10)
    return 0
