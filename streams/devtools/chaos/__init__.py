"""``prismaflow chaos`` (``make chaos``): the fault campaign, a development tool like the benchmark.

Starts a broker of its own, the Jira simulator and every process kind as real processes, sends
steady webhook traffic, and injects faults one after another: the broker stopped for two minutes
and started again, kill -9 of each process kind, a tracker outage, corrupt records on the raw and
scored topics, a poisoned notification. It prints, per fault, alerts in / lost / duplicated and
whether every process recovered without help, keeps the JSON in ``.prismaflow/chaos/latest.json``
and exits non-zero when anything was lost, doubled or needed help. ``--quick`` is the short version
``make test`` runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil

from streams.devtools.chaos.campaign import FULL, QUICK, CampaignReport, format_table, run_campaign, save
from streams.settings import default_home

__all__ = ["add_arguments", "run_chaos", "run_campaign", "CampaignReport", "QUICK", "FULL"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="the short campaign make test runs (about 90 seconds)")
    parser.add_argument("--broker-outage-s", type=float, help="how long the broker stays down")
    parser.add_argument("--sink-outage-s", type=float, help="how long the tracker stays down")
    parser.add_argument("--rate", type=float, help="webhook alerts per second")


def run_chaos(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    overrides = {k: v for k, v in (("broker_outage_s", args.broker_outage_s), ("sink_outage_s", args.sink_outage_s),
                                   ("rate", args.rate)) if v is not None}
    plan = dataclasses.replace(plan, **overrides)
    home = default_home() / "chaos" / "run"
    shutil.rmtree(home, ignore_errors=True)
    report = run_campaign(home, plan)
    shutil.rmtree(home / "broker", ignore_errors=True)  # the logs of every process stay for a look
    print(format_table(report))
    print(f"process logs: {home}")
    save(report, default_home() / "chaos" / "latest.json")
    return 0 if report.clean else 1
