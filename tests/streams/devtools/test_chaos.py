"""The short fault campaign (``prismaflow chaos --quick``) on a broker of its own: a broker outage under
traffic, kill -9 of the stream core, a tracker outage, corrupt records and a poisoned notification
lose nothing, double nothing, create no duplicate ticket, and need no help from outside.

``make chaos`` runs the long campaign (a two-minute outage, kill -9 of every process kind); its
latest figures are in docs/reliability.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.devtools.chaos import QUICK, run_campaign
from streams.devtools.chaos.campaign import format_table

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_the_quick_fault_campaign_loses_and_doubles_nothing_and_every_process_recovers(tmp_path: Path) -> None:
    report = run_campaign(tmp_path, QUICK, say=lambda line: None)
    table = format_table(report)
    print(table)
    faults = {row.fault: row for row in report.rows}
    assert set(QUICK.faults) <= set(faults), table
    for row in report.rows:
        assert row.alerts_in > 0, table  # traffic flowed through every window, the outage included
        assert (row.lost, row.duplicated) == (0, 0), table
        assert row.recovered_without_help, table
    assert report.tickets > 0 and report.duplicate_tickets == 0, table
    assert report.dead_letters >= 8, table  # the corrupt records went to the dead-letter topic
    assert 500 not in report.webhook_statuses, table
    for name, (status, took) in report.sigterm_exits.items():
        assert took < 26, f"{name} took {took:.1f} s to stop on SIGTERM\n{table}"
