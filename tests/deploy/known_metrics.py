"""The metric families the code registers, for checking what the deployment files query."""

from __future__ import annotations

import importlib
import re

METRIC = re.compile(r"\bprismaflow_[a-z0-9_]+")
_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
_MODULES = ("streams.metrics", "streams.sink", "streams.tickets", "streams.audit", "streams.ticket_sync",
            "connectors.prisma.source", "connectors.prisma.webhook", "streams.siem", "streams.chat")


def known_metric_families() -> set[str]:
    """Every ``prismaflow_*`` family the worker, source, sink and analysis modules register."""
    from prometheus_client import REGISTRY

    for module in _MODULES:
        importlib.import_module(module)
    from streams.analysis.metrics import AnalysisMetrics

    AnalysisMetrics.default()
    return {family.name for family in REGISTRY.collect()}


def family(name: str) -> str:
    """The family of a sample name (``x_total`` / ``x_bucket`` -> ``x``)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
