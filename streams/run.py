"""Building and running the stream-core workers from settings: ``prismaflow run <stage>``.

One process runs one stage; run more processes of a stage (distinct ``PRISMAFLOW_WORKER_INSTANCE_ID``)
to spread its partitions. Static inputs (feeds, owner map, scoring policy, schemas) are loaded once
here, at start-up.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.feeds.store import SHIPPED_FEEDS_DIR, load_feeds, newest_snapshot
from processors.enrich import EnrichmentContext
from processors.enrich.feeds import ExploitFeeds
from processors.errors import ConfigurationError
from streams.serde import AvroSerde, SerdeSettings
from streams.settings import KafkaSettings, SchemaRegistrySettings, _Settings, default_home
from streams.stages import CoreStage, NormaliseEnrichStage, ScoreStage
from streams.static_inputs import DEFAULT_POLICY_PATH, load_owner_map, load_scoring_policy
from streams.topics import ALERTS, DLQ, RAW_ALERTS, SCORE_CHANGELOG, SCORED_ALERTS
from streams.worker import TransactionalWorker, WorkerOptions

__all__ = ["WorkerSettings", "STAGES", "build_serde", "build_worker", "load_worker_feeds", "run_stage",
           "serve_worker_health"]

log = logging.getLogger(__name__)

STAGES = ("core", "normalise", "score")


class WorkerSettings(_Settings):
    """Identity, tuning and static inputs of a stream-core worker."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_WORKER_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Stream workers"

    instance_id: str = Field(
        default="0", description="Stable, distinct per process of a stage (e.g. a pod ordinal); names its transactions")
    group_prefix: str = Field(default="prismaflow", description="Consumer group prefix; the group is <prefix>.<stage>")
    topic_prefix: str = Field(default="", description="Prefix for every topic name (side-by-side deployments, tests)")
    max_batch: int = Field(default=2000, ge=1, description="Records per poll and per transaction at most")
    poll_timeout_ms: int = Field(default=100, ge=0, description="How long a poll waits for the first record of a batch (it returns as soon as one arrives)")
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Port for /metrics, /healthz and /readyz; 0 turns it off")
    metrics_addr: str = Field(
        default="0.0.0.0", description="Address the /metrics, /healthz and /readyz endpoint listens on: every "
                                       "address by default (containers); 127.0.0.1 keeps it to the host")
    owners_file: Path | None = Field(default=None, description="Owner/asset mapping YAML (see owners.example.yaml)")
    scoring_policy_file: Path = Field(default=DEFAULT_POLICY_PATH, description="Scoring weights and tiers YAML")
    feeds_dir: Path = Field(
        default_factory=lambda: default_home() / "feeds",
        description="Folder where `prismaflow feeds refresh` writes kev-*.json and epss-*.csv.gz; default "
                    "`$PRISMAFLOW_HOME/feeds`. Workers load, feed by feed, the newest file of this folder and of "
                    "the snapshot shipped in `processors/enrich/data`")


def build_serde(registry: SchemaRegistrySettings | None = None) -> AvroSerde:
    registry = registry or SchemaRegistrySettings()
    return AvroSerde(SerdeSettings(schema_registry_url=registry.url,
                                   schema_registry_basic_auth_user_info=registry.basic_auth_user_info))


def load_worker_feeds(settings: WorkerSettings) -> ExploitFeeds:
    """Feed by feed, the newest KEV and EPSS file of the feeds folder and of the shipped snapshot."""
    started = time.perf_counter()
    files = newest_snapshot(settings.feeds_dir, SHIPPED_FEEDS_DIR)
    feeds = load_feeds(files.kev, files.epss)
    log.info("feeds loaded kev=%s epss=%s as_of=%r elapsed_s=%.2f", files.kev, files.epss, feeds.as_of,
             time.perf_counter() - started)
    return feeds


def _enrichment(settings: WorkerSettings) -> EnrichmentContext:
    feeds = load_worker_feeds(settings)
    if settings.owners_file:
        return EnrichmentContext(feeds=feeds, owners=load_owner_map(settings.owners_file))
    return EnrichmentContext(feeds=feeds)


def _stage(name: str, settings: WorkerSettings, serde: AvroSerde) -> Any:
    prefix = settings.topic_prefix
    if name == "core":
        return CoreStage(_enrichment(settings), load_scoring_policy(settings.scoring_policy_file), serde,
                         input_topic=prefix + RAW_ALERTS.name, output_topic=prefix + SCORED_ALERTS.name,
                         changelog_topic=prefix + SCORE_CHANGELOG.name)
    if name == "normalise":
        return NormaliseEnrichStage(_enrichment(settings), serde, input_topic=prefix + RAW_ALERTS.name,
                                    output_topic=prefix + ALERTS.name)
    if name == "score":
        return ScoreStage(load_scoring_policy(settings.scoring_policy_file), serde,
                          input_topic=prefix + ALERTS.name, output_topic=prefix + SCORED_ALERTS.name,
                          changelog_topic=prefix + SCORE_CHANGELOG.name)
    raise ConfigurationError(f"unknown stage {name!r}; choose one of {', '.join(STAGES)}")


def build_worker(name: str, kafka: KafkaSettings, serde: AvroSerde, settings: WorkerSettings) -> TransactionalWorker[Any]:
    """The worker of stage ``name`` with its static inputs loaded."""
    stage = _stage(name, settings, serde)
    options = WorkerOptions(
        group_id=f"{settings.group_prefix}.{name}", instance_id=settings.instance_id,
        max_batch=settings.max_batch, poll_timeout_s=settings.poll_timeout_ms / 1000,
        dlq_topic=settings.topic_prefix + DLQ.name,
    )
    return TransactionalWorker(kafka, serde, stage, options)


def serve_worker_health(worker: TransactionalWorker[Any], kafka: KafkaSettings, settings: WorkerSettings) -> None:
    """Register the worker's readiness checks and serve /metrics, /healthz and /readyz.

    Ready: the broker answers and has the stage's topics, the consumer joined its group, and no
    newly assigned partition is still restoring its state. Alive: the worker loop turns, or it is
    restoring state (a large changelog can take longer than the liveness window).
    """
    from streams.metrics import HEALTH, broker_check, group_joined_check, serve_metrics

    stage = worker.stage
    topics = [stage.input_topic, *filter(None, [getattr(stage, "output_topic", None),
                                                getattr(stage, "changelog_topic", None)])]
    HEALTH.add_check("broker", broker_check(kafka.client_config(), topics))
    HEALTH.add_check("group", group_joined_check(worker))
    HEALTH.add_check("state", lambda: "restoring state of newly assigned partitions" if worker.restoring else True)
    HEALTH.add_busy("restoring state", lambda: worker.restoring)  # a long restore is not a hang
    serve_metrics(settings.metrics_port, settings.metrics_addr)


def run_stage(name: str) -> int:
    """Run one stage until SIGTERM/SIGINT (the CLI's ``prismaflow run``)."""
    from streams.process import run_until_signalled

    settings, kafka = WorkerSettings(), KafkaSettings()
    serde = build_serde()
    worker = build_worker(name, kafka, serde, settings)
    serve_worker_health(worker, kafka, settings)
    log.info("worker starting stage=%s instance=%s", name, settings.instance_id)
    return run_until_signalled(worker.run, worker.stop, name=f"run {name}")
