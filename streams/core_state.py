"""The fused core's state of one input partition, its changelog records, and its restore.

Per partition the core keeps, and writes to ``prisma.score.changelog`` (same partition) whenever
they change, inside the worker's transaction:

=============================  ==================================================================
``d:<asset id>|<alert id>``    the dedupe entry of a finding
``a:<asset id>``               the asset's correlation state (its own and linked findings)
``h``                          the partition's dismissal history
``g:<asset id>``               the asset graph around the asset (:class:`AssetGraph`)
``m:<asset id>|<finding key>`` the last alert of an open member, for re-emission
=============================  ==================================================================

A tombstone removes an ``a:``, ``d:``, ``g:`` or ``m:`` entry. Reading the committed changelog
from the start gives exactly the state that matches the committed input offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from processors.correlate import AssetState
from processors.dedupe import DedupeEntry
from processors.graph.state import AssetGraph
from processors.graph.step import AssetView
from processors.models import Alert
from processors.records import ScoringState
from processors.score import DismissalHistory
from streams.publish import OutgoingRecord

__all__ = ["CoreState", "HISTORY_KEY"]

HISTORY_KEY = "h"


@dataclass
class CoreState:
    """The scoring and graph state of one input partition of the fused core."""

    dedupe: dict[str, DedupeEntry] = field(default_factory=dict)
    assets: dict[str, AssetState] = field(default_factory=dict)
    history: DismissalHistory = field(default_factory=DismissalHistory)
    graphs: dict[str, AssetGraph] = field(default_factory=dict)
    members: dict[str, dict[str, Alert]] = field(default_factory=dict)

    def size(self) -> int:
        return len(self.dedupe) + len(self.assets) + len(self.graphs) + sum(len(m) for m in self.members.values())

    def view(self, asset_id: str, finding: str | None = None) -> AssetView:
        """What a record of ``asset_id`` reads (``finding``: its dedupe key, for an alert)."""
        return AssetView(asset_id, self.dedupe.get(finding) if finding else None, self.assets.get(asset_id),
                         self.graphs.get(asset_id), self.members.get(asset_id, {}), self.history)

    def apply(self, before: AssetView, after: AssetView, finding: str | None, changelog: str,
              partition: int) -> list[OutgoingRecord]:
        """Keep ``after`` and return the changelog records that say what changed since ``before``."""
        out: list[OutgoingRecord] = []
        asset = after.asset_id

        def write(key: str, value: ScoringState | None) -> None:
            out.append(OutgoingRecord(changelog, key, value, partition=partition))

        if finding is not None and after.dedupe is not None and after.dedupe != before.dedupe:
            self.dedupe[finding] = after.dedupe
            write(f"d:{finding}", ScoringState(dedupe=after.dedupe))
        if after.state is not before.state and after.state != before.state:
            if after.state is None or not after.state.findings:
                self.assets.pop(asset, None)
                write(f"a:{asset}", None)
            else:
                self.assets[asset] = after.state
                write(f"a:{asset}", ScoringState(asset=after.state))
        if after.history is not before.history and after.history != before.history:
            self.history = after.history
            write(HISTORY_KEY, ScoringState(history=after.history))
        if after.graph is not before.graph and after.graph != before.graph:
            if after.graph is None or after.graph.empty:
                self.graphs.pop(asset, None)
                write(f"g:{asset}", None)
            else:
                self.graphs[asset] = after.graph
                write(f"g:{asset}", ScoringState(graph=after.graph))
        if after.alerts is not before.alerts:
            self._members(asset, before.alerts, after.alerts, write)
        return out

    def _members(self, asset: str, before: Mapping[str, Alert], after: Mapping[str, Alert],
                 write: Callable[[str, ScoringState | None], None]) -> None:
        for key, alert in after.items():
            if before.get(key) is not alert:  # a step keeps unchanged alerts as the same objects
                write(f"m:{asset}|{key}", ScoringState(member=alert))
        for key in before:
            if key not in after:
                write(f"m:{asset}|{key}", None)
        if after:
            self.members[asset] = dict(after)
        else:
            self.members.pop(asset, None)

    def restore(self, key: str, entry: ScoringState | None) -> None:
        """Apply one changelog record (oldest first); ``entry`` None is a tombstone."""
        prefix, _, rest = key.partition(":")
        if entry is None:
            if prefix == "a":
                self.assets.pop(rest, None)
            elif prefix == "d":
                self.dedupe.pop(rest, None)
            elif prefix == "g":
                self.graphs.pop(rest, None)
            elif prefix == "m":
                asset, _, member = rest.partition("|")
                self.members.get(asset, {}).pop(member, None)
                if not self.members.get(asset, True):
                    self.members.pop(asset, None)
            return
        if entry.dedupe is not None:
            self.dedupe[rest] = entry.dedupe
        elif entry.asset is not None:
            self.assets[rest] = entry.asset
        elif entry.history is not None:
            self.history = entry.history
        elif entry.graph is not None:
            self.graphs[rest] = entry.graph
        elif entry.member is not None:
            asset, _, member = rest.partition("|")
            self.members.setdefault(asset, {})[member] = entry.member
