"""Running a stream-core worker until stopped: ``prismaflow run <stage>``.

One process runs one stage; run more processes of a stage (distinct ``PRISMAFLOW_WORKER_INSTANCE_ID``)
to spread its partitions. The worker and its static inputs (feeds, owner map, scoring policy) are
built by the composition root (:mod:`streams.compose`), once, at start-up.
"""

from __future__ import annotations

import logging

from streams.compose import build_serde, build_stage_worker
from streams.config import PrismaflowSettings
from streams.metrics import serve_metrics
from streams.process import run_until_signalled

__all__ = ["run_stage"]

log = logging.getLogger(__name__)


def run_stage(name: str, settings: PrismaflowSettings) -> int:
    """Run one stage until SIGTERM/SIGINT (the CLI's ``prismaflow run``)."""
    worker = build_stage_worker(name, settings, build_serde(settings))
    serve_metrics(settings.worker.metrics_port)
    log.info("worker starting stage=%s instance=%s", name, settings.worker.instance_id)
    return run_until_signalled(worker.run, worker.stop, name=f"run {name}")
