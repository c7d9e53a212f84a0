"""Running the sinks, the analysis stage and the ticket sync until stopped: ``prismaflow sink <name>``,
``prismaflow run analyse`` and ``prismaflow sync <tracker>``.

Each sink is its own process and consumer group (``<group prefix>.sink.<name>``); its audit chain is
named ``<name>/<instance id>``. The sinks are built by the composition root (:mod:`streams.compose`);
defaults point at the local simulators (``python -m connectors.jira.simulator`` etc.), and a real Jira
site, ServiceNow instance, Splunk or LLM endpoint is configuration only.
"""

from __future__ import annotations

import asyncio
import logging

from connectors.prisma.cspm_client import CspmClient
from processors.errors import ConfigurationError
from streams.compose import SINKS, TRACKERS, audit_writer, build_serde, build_sink_worker, build_tracker
from streams.config import PrismaflowSettings
from streams.kafka_clients import KafkaClients
from streams.metrics import HEALTH, beat_while_running, broker_check, group_joined_check, serve_metrics, sink_target_check
from streams.operator.preflight import require_topics
from streams.process import AsyncStopper, run_until_signalled
from streams.ticket_sync import TicketSyncer
from streams.topics import TICKETS

__all__ = ["run_analysis", "run_sink", "run_sync"]

log = logging.getLogger(__name__)


def run_sink(name: str, settings: PrismaflowSettings) -> int:
    """Run sink ``name`` until SIGTERM/SIGINT."""
    if name not in SINKS or name == "analyse":
        choices = ", ".join(sink for sink in SINKS if sink != "analyse")
        raise ConfigurationError(f"unknown sink {name!r}; choose one of {choices}")
    return _run(name, settings)


def run_analysis(settings: PrismaflowSettings) -> int:
    """Run the analysis stage until SIGTERM/SIGINT (LLM when configured, else offline)."""
    return _run("analyse", settings)


def _run(name: str, settings: PrismaflowSettings) -> int:
    worker = build_sink_worker(name, settings, build_serde(settings))
    require_topics(worker.kafka, [*worker.sink.topics, worker.options.dlq_topic],  # fail, never idle
                   wait_s=settings.worker.start_wait_s)
    HEALTH.add_check("broker", broker_check(KafkaClients(settings.kafka), worker.sink.topics))
    HEALTH.add_check("group", group_joined_check(worker))
    HEALTH.add_check("target", sink_target_check(worker.sink.name))
    serve_metrics(settings.worker.metrics_port, settings.worker.metrics_addr)
    log.info("sink starting sink=%s instance=%s", name, settings.worker.instance_id)
    return run_until_signalled(worker.run, worker.stop, name=f"sink {name}")


def run_sync(name: str, settings: PrismaflowSettings) -> int:
    """Run the tracker → Prisma Cloud sync for tracker ``name`` until SIGTERM/SIGINT."""
    if name not in TRACKERS:
        raise ConfigurationError(f"unknown tracker {name!r}; choose one of {', '.join(TRACKERS)}")
    serde = build_serde(settings)
    audit = audit_writer(f"sync.{name}", settings, serde)
    require_topics(settings.kafka, [audit.topic, settings.worker.topic_prefix + TICKETS.name],  # fail, never idle
                   wait_s=settings.worker.start_wait_s)
    audit.start()
    HEALTH.add_check("broker", broker_check(KafkaClients(settings.kafka), [audit.topic]))
    serve_metrics(settings.worker.metrics_port, settings.worker.metrics_addr)
    stopper = AsyncStopper()

    async def main() -> None:
        stop = stopper.bind()
        beating = asyncio.create_task(beat_while_running(stop))
        tracker = build_tracker(name, settings)
        try:
            async with CspmClient(settings.prisma) as prisma:
                syncer = TicketSyncer(tracker, prisma, settings.kafka, serde, topic_prefix=settings.worker.topic_prefix,
                                      audit=audit, policy=settings.sync)
                await syncer.run(stop, settings.sync_schedule.interval_s)
            await tracker.aclose()
        finally:
            beating.cancel()

    return run_until_signalled(lambda: asyncio.run(main()), stopper.stop, name=f"sync {name}")
