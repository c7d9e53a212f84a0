"""Running a stream-core worker until stopped: ``prismaflow run <stage>``.

One process runs one stage; run more processes of a stage (distinct ``PRISMAFLOW_WORKER_INSTANCE_ID``)
to spread its partitions. The worker and its static inputs (feeds, owner map, scoring policy) are
built by the composition root (:mod:`streams.compose`), once, at start-up.
"""

from __future__ import annotations

import logging

from streams.compose import build_serde, build_stage_worker
from streams.config import PrismaflowSettings
from typing import Any

from streams.kafka_clients import KafkaClients
from streams.operator.preflight import require_topics
from streams.metrics import HEALTH, broker_check, group_joined_check, serve_metrics
from streams.process import run_until_signalled
from streams.worker import TransactionalWorker

__all__ = ["run_stage", "serve_worker_health"]

log = logging.getLogger(__name__)


def run_stage(name: str, settings: PrismaflowSettings) -> int:
    """Run one stage until SIGTERM/SIGINT (the CLI's ``prismaflow run``)."""
    worker = build_stage_worker(name, settings, build_serde(settings))
    require_topics(worker.clients, [*_stage_topics(worker), worker.options.dlq_topic],  # fail, never idle
                   wait_s=settings.worker.start_wait_s)
    serve_worker_health(worker, settings)
    log.info("worker starting stage=%s instance=%s", name, settings.worker.instance_id)
    return run_until_signalled(worker.run, worker.stop, name=f"run {name}")


def _stage_topics(worker: TransactionalWorker[Any]) -> list[str]:
    """The topics a stage reads and writes: its input, its output and its changelog."""
    stage = worker.stage
    return [stage.input_topic, *filter(None, [getattr(stage, "output_topic", None),
                                              getattr(stage, "changelog_topic", None),
                                              getattr(stage.state, "changelog_topic", None)])]


def serve_worker_health(worker: TransactionalWorker[Any], settings: PrismaflowSettings) -> None:
    """Register the worker's readiness checks and serve /metrics, /healthz and /readyz.

    Ready: the broker answers and has the stage's topics, the consumer joined its group, and no
    newly assigned partition is still restoring its state. Alive: the worker loop turns, or it is
    restoring state (a large changelog can take longer than the liveness window).
    """
    HEALTH.add_check("broker", broker_check(KafkaClients(settings.kafka), _stage_topics(worker)))
    HEALTH.add_check("group", group_joined_check(worker))
    HEALTH.add_check("state", lambda: "restoring state of newly assigned partitions" if worker.restoring else True)
    HEALTH.add_busy("restoring state", lambda: worker.restoring)  # a long restore is not a hang
    serve_metrics(settings.worker.metrics_port, settings.worker.metrics_addr)
