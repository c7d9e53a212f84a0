"""The Grafana dashboard: job and namespace variables on every query, ``$__rate_interval`` for rates,
panels for the stages, sources, sinks and the LLM, and only metrics the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.known_metrics import METRIC, family, known_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "prismaflow-dashboard.json"
_SELECTOR = re.compile(r"\b((?:prismaflow_[a-z0-9_]+)|up)\{([^}]*)\}")
_RANGE = re.compile(r"\b(rate|increase|deriv)\([^\[]*\[([^\]]+)\]")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] if p["type"] != "row" for t in p["targets"]]


def test_every_panel_queries_metrics_the_code_exports(dashboard: dict[str, Any]) -> None:
    known = known_metric_families()
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        exprs = [target["expr"] for target in panel["targets"]]
        used = {family(name) for expr in exprs for name in METRIC.findall(expr)}
        assert used or all("up{" in expr for expr in exprs), f"panel {panel['title']!r} queries no Prismaflow metric"
        assert used <= known, f"panel {panel['title']!r} queries unknown metrics {sorted(used - known)}"


def test_job_and_namespace_variables_select_every_series(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace", "job"} <= set(variables)
    for name in ("namespace", "job"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    for query in _queries(dashboard):
        selectors = _SELECTOR.findall(query)
        assert len(selectors) == len(METRIC.findall(query)) + query.count("up{"), f"bare metric in {query}"
        for _, labels in selectors:
            assert 'namespace=~"$namespace"' in labels and 'job=~"$job"' in labels, query


def test_rates_use_the_rate_interval_and_only_long_increases_a_fixed_window(dashboard: dict[str, Any]) -> None:
    ranges = [(fn, window) for query in _queries(dashboard) for fn, window in _RANGE.findall(query)]
    assert ranges
    for fn, window in ranges:
        if fn == "rate":
            assert window == "$__rate_interval", f"rate over {window}"
        else:
            assert window == "$__rate_interval" or window in ("1h", "24h"), f"{fn} over {window}"


def test_there_are_panels_for_sources_sinks_and_the_llm(dashboard: dict[str, Any]) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Stream stages", "Sources", "Sinks", "LLM analysis"]
    queried = {family(n) for q in _queries(dashboard) for n in METRIC.findall(q)}
    for required in ("prismaflow_sink_deliveries", "prismaflow_sink_paused", "prismaflow_sink_retries",
                     "prismaflow_sink_delivery_seconds", "prismaflow_llm_calls", "prismaflow_llm_tokens",
                     "prismaflow_llm_budget_exhausted", "prismaflow_source_alerts_written",
                     "prismaflow_source_polls", "prismaflow_source_checkpoint_lag_seconds",
                     "prismaflow_consumer_lag_records", "prismaflow_dead_letters"):
        assert required in queried, f"no panel for {required}"


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & mine, f"panel {panel['title']!r} overlaps another"
        cells |= mine
