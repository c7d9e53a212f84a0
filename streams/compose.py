"""The composition root: every running object of Prismaflow, built from the settings tree.

The command line (``prismaflow run|sink|sync|poll|webhook``), the demo and the bench build their
workers, sources, sinks and the analysis service here and nowhere else, so all three run the same
objects configured the same way; they differ only in the :class:`~streams.config.PrismaflowSettings`
they pass (the demo points the Jira and ServiceNow sections at its simulators, for instance).

Names, as operators see them: a stage's consumer group is ``<group prefix>.<stage>``, a sink's
``<group prefix>.sink.<name>``; a sink's audit chain is ``<name>/<instance id>`` (``sink.<name>/...``
for the SIEM and chat sinks, ``sync.<tracker>/...`` for the sync); every topic carries the topic prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette

from connectors.feeds.store import SHIPPED_FEEDS_DIR, load_feeds, newest_snapshot
from connectors.jira.sink import JiraTicketTracker
from connectors.prisma.compute_client import ComputeClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PollerSettings, WebhookSettings
from connectors.prisma.source import ComputePoller, CspmPoller
from connectors.prisma.webhook import create_webhook_app
from connectors.servicenow.sink import ServiceNowTicketTracker
from connectors.slack.sink import ChatWebhookNotifier
from connectors.splunk.sink import SplunkHecForwarder
from connectors.syslog.sink import SyslogCefForwarder
from processors.enrich import EnrichmentContext
from processors.enrich.feeds import ExploitFeeds
from processors.errors import ConfigurationError
from streams.analysis.budget import AnalysisGate
from streams.analysis.settings import AnalysisSettings
from streams.async_publish import AsyncPublisher
from streams.audit import AuditWriter
from streams.chat import ChatSink
from streams.checkpoints import KafkaCheckpointStore, KafkaPageWriter
from streams.config import PrismaflowSettings
from streams.config.stages import WorkerSettings
from streams.kafka_clients import KafkaClients
from streams.metrics import Health, broker_check
from streams.serde import AvroSerde, SerdeSettings
from streams.siem import SiemTopicSink
from streams.siem_forward import SiemForwardSink
from streams.sink import Sink, SinkOptions, SinkWorker
from streams.stages import CoreStage, NormaliseEnrichStage, ScoreStage
from streams.static_inputs import load_owner_map, load_scoring_policy
from streams.remediation.policy import load_rollout_policy
from streams.tickets import TicketSink
from streams.topics import ALERTS, AUDIT, DLQ, RAW_ALERTS, SCORE_CHANGELOG, SCORED_ALERTS, SOURCE_CHECKPOINTS
from streams.worker import TransactionalWorker, WorkerOptions

__all__ = ["SINKS", "STAGES", "TRACKERS", "audit_writer", "build_serde", "build_sink", "build_sink_worker",
           "build_stage_worker", "build_tracker", "build_webhook_app", "load_worker_feeds", "poller_settings",
           "run_pollers", "webhook_settings"]

log = logging.getLogger(__name__)

STAGES = ("core", "normalise", "score")
TRACKERS = ("jira", "servicenow")
SINKS = ("analyse", "chat", "jira", "servicenow", "siem", "splunk", "syslog")


def build_serde(settings: PrismaflowSettings) -> AvroSerde:
    """The Avro serde: Confluent wire format with a Schema Registry URL, single-object encoding without."""
    return AvroSerde(SerdeSettings(registry=settings.schema_registry))


# -- stream-core workers ----------------------------------------------------------------------------


def load_worker_feeds(worker: WorkerSettings) -> ExploitFeeds:
    """Feed by feed, the newest KEV and EPSS file of the feeds folder and of the shipped snapshot."""
    started = time.perf_counter()
    files = newest_snapshot(worker.feeds_dir, SHIPPED_FEEDS_DIR)
    feeds = load_feeds(files.kev, files.epss)
    log.info("feeds loaded kev=%s epss=%s as_of=%r elapsed_s=%.2f", files.kev, files.epss, feeds.as_of,
             time.perf_counter() - started)
    return feeds


def _enrichment(worker: WorkerSettings) -> EnrichmentContext:
    feeds = load_worker_feeds(worker)
    if worker.owners_file:
        return EnrichmentContext(feeds=feeds, owners=load_owner_map(worker.owners_file))
    return EnrichmentContext(feeds=feeds)


def _stage(name: str, worker: WorkerSettings, serde: AvroSerde) -> Any:
    prefix = worker.topic_prefix
    if name == "core":
        return CoreStage(_enrichment(worker), load_scoring_policy(worker.scoring_policy_file), serde,
                         input_topic=prefix + RAW_ALERTS.name, output_topic=prefix + SCORED_ALERTS.name,
                         changelog_topic=prefix + SCORE_CHANGELOG.name)
    if name == "normalise":
        return NormaliseEnrichStage(_enrichment(worker), serde, input_topic=prefix + RAW_ALERTS.name,
                                    output_topic=prefix + ALERTS.name)
    if name == "score":
        return ScoreStage(load_scoring_policy(worker.scoring_policy_file), serde,
                          input_topic=prefix + ALERTS.name, output_topic=prefix + SCORED_ALERTS.name,
                          changelog_topic=prefix + SCORE_CHANGELOG.name)
    raise ConfigurationError(f"unknown stage {name!r}; choose one of {', '.join(STAGES)}")


def build_stage_worker(name: str, settings: PrismaflowSettings, serde: AvroSerde) -> TransactionalWorker[Any]:
    """The worker of stream stage ``name`` (core, normalise, score) with its static inputs loaded."""
    worker = settings.worker
    stage = _stage(name, worker, serde)
    options = WorkerOptions(
        group_id=f"{worker.group_prefix}.{name}", instance_id=worker.instance_id,
        max_batch=worker.max_batch, poll_timeout_s=worker.poll_timeout_ms / 1000,
        dlq_topic=worker.topic_prefix + DLQ.name,
    )
    return TransactionalWorker(settings.kafka, serde, stage, options)


# -- sinks and the analysis stage -------------------------------------------------------------------


def build_tracker(name: str, settings: PrismaflowSettings) -> JiraTicketTracker | ServiceNowTicketTracker:
    """The ticket tracker ``name`` (jira, servicenow) on its section's site."""
    if name == "jira":
        return JiraTicketTracker(settings.jira)
    if name == "servicenow":
        return ServiceNowTicketTracker(settings.servicenow)
    raise ConfigurationError(f"unknown tracker {name!r}; choose one of {', '.join(TRACKERS)}")


def analysis_settings(settings: PrismaflowSettings) -> AnalysisSettings:
    """The analysis stage's settings: its section, with the ``llm`` section as its endpoint when that has
    an API key (else ``llm`` stays None: every analysis is written offline)."""
    return settings.analysis.model_copy(update={"llm": settings.llm if settings.llm.configured else None})


def audit_writer(chain: str, settings: PrismaflowSettings, serde: AvroSerde) -> AuditWriter:
    """An audit writer for chain ``<chain>/<instance id>`` on the prefixed audit topic (not started),
    signing with the ``audit`` section's key: :class:`ConfigurationError` without one."""
    worker = settings.worker
    return AuditWriter(f"{chain}/{worker.instance_id}", settings.kafka, serde, signer=settings.audit.signer(),
                       topic=worker.topic_prefix + AUDIT.name)


def _started(writer: AuditWriter) -> AuditWriter:
    writer.start()
    return writer


def build_sink(name: str, settings: PrismaflowSettings, serde: AvroSerde) -> Sink:
    """Sink ``name`` (one of :data:`SINKS`) configured by its section of the tree."""
    prefix, kafka = settings.worker.topic_prefix, settings.kafka
    if name in TRACKERS:
        # A new ticket waits (PRISMAFLOW_TICKETS_ANALYSIS_WAIT_S) for the analysis the stage's own gate says it writes.
        gate = AnalysisGate(analysis_settings(settings))
        return TicketSink(build_tracker(name, settings), kafka, serde, topic_prefix=prefix,
                          audit=_started(audit_writer(name, settings, serde)), rules=settings.tickets,
                          rollout=load_rollout_policy(settings.remediation.rollout_policy_file),
                          expects_analysis=gate.should_analyse)
    if name == "analyse":
        if not settings.llm.configured:
            log.warning("no PRISMAFLOW_LLM_API_KEY: every analysis is written by the offline analyser")
        # The analysis service loads the openai SDK (~0.5 s of CPU and ~25 MB per process): only the
        # analysis stage needs it, not the core workers and the other sinks built here.
        from streams.analysis import AnalysisService, AnalysisSink  # lazy: the openai SDK, see above

        return AnalysisSink(AnalysisService(analysis_settings(settings)), topic_prefix=prefix,
                            audit=_started(audit_writer(name, settings, serde)))
    if name == "siem":
        stage = settings.siem
        return SiemTopicSink(topic_prefix=prefix, include_analyses=stage.include_analyses,
                             max_cached=stage.max_cached, redact_secrets=stage.redact_secrets)
    if name == "splunk":
        splunk = settings.splunk_sink
        return SiemForwardSink(SplunkHecForwarder(settings.splunk), topic_prefix=prefix, min_tier=splunk.min_tier,
                               audit=audit_writer("sink.splunk", settings, serde) if splunk.audit else None)
    if name == "syslog":
        syslog = settings.syslog_sink
        forwarder = SyslogCefForwarder(settings.syslog, console_base_url=syslog.console_base_url,
                                       device_external_id=syslog.device_external_id)
        return SiemForwardSink(forwarder, topic_prefix=prefix, min_tier=syslog.min_tier,
                               audit=audit_writer("sink.syslog", settings, serde) if syslog.audit else None)
    if name == "chat":
        chat = settings.chat_sink
        return ChatSink(ChatWebhookNotifier(settings.chat), kafka, serde, topic_prefix=prefix,
                        notify_tier=chat.notify_tier, approval_base_url=chat.approval_base_url, tracker=chat.tracker,
                        audit=audit_writer("sink.chat", settings, serde) if chat.audit else None)
    raise ConfigurationError(f"unknown sink {name!r}; choose one of {', '.join(SINKS)}")


def build_sink_worker(name: str, settings: PrismaflowSettings, serde: AvroSerde,
                      sink: Sink | None = None) -> SinkWorker:
    """The worker that runs sink ``name`` (built from the settings unless given) in group
    ``<group prefix>.sink.<name>``."""
    worker = settings.worker
    return SinkWorker(settings.kafka, serde, sink or build_sink(name, settings, serde), SinkOptions(
        group_id=f"{worker.group_prefix}.sink.{name}", dlq_topic=worker.topic_prefix + DLQ.name))


# -- sources -----------------------------------------------------------------------------------------


def poller_settings(settings: PrismaflowSettings) -> PollerSettings:
    """The pollers' section, their raw and DLQ topics under the topic prefix."""
    poller, prefix = settings.poller, settings.worker.topic_prefix
    return poller.model_copy(update={"raw_topic": prefix + poller.raw_topic, "dlq_topic": prefix + poller.dlq_topic})


def webhook_settings(settings: PrismaflowSettings) -> WebhookSettings:
    """The receiver's section, its raw and DLQ topics under the topic prefix."""
    webhook, prefix = settings.webhook, settings.worker.topic_prefix
    return webhook.model_copy(update={"raw_topic": prefix + webhook.raw_topic,
                                      "dlq_topic": prefix + webhook.dlq_topic})


async def run_pollers(settings: PrismaflowSettings, stop: asyncio.Event,
                      broker_stop: threading.Event | None = None) -> None:
    """Poll CSPM (and Compute, when enabled and configured) until ``stop`` is set.

    The pollers' transactional ids carry the topic prefix, so side-by-side deployments on one
    cluster never fence each other's transactions.
    """
    prefix, kafka, serde = settings.worker.topic_prefix, settings.kafka, build_serde(settings)
    poller, checkpoints = poller_settings(settings), prefix + SOURCE_CHECKPOINTS.name
    prisma = settings.prisma
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


class _LazyPublisher:
    """The receiver's publisher, opened when the app starts (in its event loop) and closed when it stops."""

    def __init__(self, open_publisher: Callable[[], AsyncPublisher]) -> None:
        self._open = open_publisher
        self._publisher: AsyncPublisher | None = None

    def started(self) -> bool | str:
        """Readiness check: the publisher is open."""
        return True if self._publisher is not None else "the Kafka publisher has not started"

    async def send_many(self, records: list[Any]) -> list[Any]:
        if self._publisher is None:
            raise RuntimeError("the webhook app has not started")
        return list(await self._publisher.send_many(records))

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        self._publisher = self._open()
        try:
            yield
        finally:
            await self._publisher.close()


def build_webhook_app(settings: PrismaflowSettings, webhook: WebhookSettings | None = None) -> Starlette:
    """The receiver app (``webhook``: default the prefixed section); its Kafka publisher opens and
    closes with the app's lifespan."""
    webhook = webhook or webhook_settings(settings)
    receiver = webhook
    publisher = _LazyPublisher(lambda: AsyncPublisher(
        settings.kafka, build_serde(settings), transactional_id=receiver.effective_transactional_id(),
        timeout_s=receiver.write_timeout_s, max_record_bytes=receiver.max_record_bytes))
    health = Health()
    health.add_check("publisher", publisher.started)
    health.add_check("broker", broker_check(KafkaClients(settings.kafka), [webhook.raw_topic, webhook.dlq_topic]))

    def readiness() -> dict[str, str | None]:
        return {result.name: None if result.ok else result.detail for result in health.ready()}

    app = create_webhook_app(webhook, publisher, readiness=readiness)
    app.router.lifespan_context = publisher.lifespan
    return app
