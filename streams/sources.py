"""Running the sources until stopped: ``prismaflow poll`` and ``prismaflow webhook``.

Switching from the local simulator to a real Prisma Cloud tenant is configuration only: set
``PRISMAFLOW_PRISMA_API_URL`` to the tenant's stack (e.g. ``https://api2.eu.prismacloud.io``),
``PRISMAFLOW_PRISMA_COMPUTE_URL`` to the Compute console path shown under Runtime Security >
System > Utilities, and the access key pair in ``PRISMAFLOW_PRISMA_ACCESS_KEY_ID`` /
``PRISMAFLOW_PRISMA_SECRET_KEY`` (or the files ``prismaflow_prisma_secret_key`` in
``PRISMAFLOW_SECRETS_DIR``). The connector code is the same.

``PRISMAFLOW_WORKER_TOPIC_PREFIX`` applies here as everywhere: the pollers and the receiver write
to ``<prefix><topic>`` (the raw topic, the DLQ and the checkpoint topic named by their settings),
and the pollers' transactional ids carry the prefix, so side-by-side deployments on one cluster
neither share topics nor fence each other's transactions. The pollers and the receiver app are
built by the composition root (:mod:`streams.compose`).
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from processors.errors import ConfigurationError
from streams.compose import build_webhook_app, poller_settings, run_pollers as poll_until, webhook_settings
from streams.config import PrismaflowSettings
from streams.kafka_clients import KafkaClients
from streams.metrics import HEALTH, beat_while_running, broker_check, serve_metrics
from streams.operator.preflight import require_topics
from streams.process import AsyncStopper, run_until_signalled
from streams.topics import SOURCE_CHECKPOINTS

__all__ = ["run_pollers", "run_webhook"]

log = logging.getLogger(__name__)


def run_pollers(settings: PrismaflowSettings) -> int:
    """Poll CSPM (and Compute) until SIGTERM/SIGINT."""
    poller = poller_settings(settings)
    require_topics(settings.kafka, [poller.raw_topic, poller.dlq_topic,  # fail, never idle
                                    settings.worker.topic_prefix + SOURCE_CHECKPOINTS.name],
                   wait_s=settings.worker.start_wait_s)
    HEALTH.add_check("broker", broker_check(KafkaClients(settings.kafka), [poller.raw_topic, poller.dlq_topic]))
    serve_metrics(poller.metrics_port, poller.metrics_addr)
    stopper = AsyncStopper()

    async def main() -> None:
        stop = stopper.bind()
        beating = asyncio.create_task(beat_while_running(stop))
        try:
            await poll_until(settings, stop, stopper.threading_event)
        finally:
            beating.cancel()

    return run_until_signalled(lambda: asyncio.run(main()), stopper.stop, name="poll")


def run_webhook(settings: PrismaflowSettings) -> int:
    """Serve the webhook receiver with uvicorn until stopped."""
    webhook = webhook_settings(settings)
    if webhook.auth_token is None and not webhook.allow_unauthenticated:
        raise ConfigurationError("set PRISMAFLOW_WEBHOOK_AUTH_TOKEN (the header value Prisma Cloud will send)")
    log.info("webhook receiver raw_topic=%s dlq_topic=%s", webhook.raw_topic, webhook.dlq_topic)
    # In-flight requests get a bounded time to finish on SIGTERM (each answers within its own timeout).
    uvicorn.run(build_webhook_app(settings, webhook), host=webhook.host, port=webhook.port,
                log_level="info", timeout_graceful_shutdown=10)
    return 0
