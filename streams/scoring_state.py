"""The scoring state of the stream stages: its namespaces, its store, and the change from one view to the next.

Per input partition the fused core (:mod:`streams.core_stage`) and the split topology's score stage
(:class:`streams.stages.ScoreStage`) keep, in a :class:`~streams.state_store.PartitionStore` whose
changes go to ``prisma.score.changelog`` (same partition) inside the worker's transaction:

================  ==================================  =============================================
namespace         changelog key                       what
================  ==================================  =============================================
:data:`DEDUPE`    ``d:<asset id>|<alert id>``         the dedupe entry of a finding
:data:`ASSETS`    ``a:<asset id>``                    the asset's correlation state (its own and linked findings)
:data:`HISTORY`   ``h``                               the partition's dismissal history
:data:`GRAPHS`    ``g:<asset id>``                    the asset graph around the asset (fused core only)
:data:`MEMBERS`   ``m:<asset id>|<finding key>``      the last alert of an open member, for re-emission
================  ==================================  =============================================

The keys and the ``ScoringState`` envelope are those the stages wrote before the store existed, so
the changelog of a running deployment restores unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from processors.correlate import AssetState
from processors.dedupe import DedupeEntry
from processors.graph.state import AssetGraph
from processors.graph.step import AssetView
from processors.models import Alert
from processors.records import ScoringState
from processors.score import DismissalHistory
from streams.state_store import Namespace, NamespaceKind, PartitionStore, StateStore

__all__ = ["ASSETS", "DEDUPE", "GRAPHS", "HISTORY", "MEMBERS", "apply_view", "scoring_store", "view_of"]

DEDUPE: Namespace[DedupeEntry] = Namespace("dedupe", "d", "dedupe")
ASSETS: Namespace[AssetState] = Namespace("assets", "a", "asset")
HISTORY: Namespace[DismissalHistory] = Namespace("history", "h", "history", NamespaceKind.VALUE)
GRAPHS: Namespace[AssetGraph] = Namespace("graphs", "g", "graph")
MEMBERS: Namespace[Alert] = Namespace("members", "m", "member", NamespaceKind.GROUPED)

_EMPTY_HISTORY = DismissalHistory()


def scoring_store(stage: str, changelog_topic: str, decode: Callable[[bytes], BaseModel]) -> StateStore:
    """The state store of a scoring stage on ``changelog_topic`` (``decode``: the serde's reader of
    :class:`ScoringState` on that topic)."""
    return StateStore(stage, changelog_topic, ScoringState, (DEDUPE, ASSETS, HISTORY, GRAPHS, MEMBERS), decode)


def view_of(store: PartitionStore, asset_id: str, finding: str | None = None) -> AssetView:
    """What a record of ``asset_id`` reads (``finding``: its dedupe key, for an alert)."""
    return AssetView(asset_id, store.get(DEDUPE, finding) if finding else None, store.get(ASSETS, asset_id),
                     store.get(GRAPHS, asset_id), store.group(MEMBERS, asset_id),
                     store.value(HISTORY, _EMPTY_HISTORY))


def apply_view(store: PartitionStore, before: AssetView, after: AssetView, finding: str | None) -> None:
    """Keep what changed from ``before`` to ``after`` (the store records the changelog writes)."""
    asset = after.asset_id
    if finding is not None and after.dedupe is not None and after.dedupe != before.dedupe:
        store.put(DEDUPE, finding, after.dedupe)
    if after.state is not before.state and after.state != before.state:
        if after.state is None or not after.state.findings:
            store.delete(ASSETS, asset)
        else:
            store.put(ASSETS, asset, after.state)
    if after.history is not before.history and after.history != before.history:
        store.set_value(HISTORY, after.history)
    if after.graph is not before.graph and after.graph != before.graph:
        if after.graph is None or after.graph.empty:
            store.delete(GRAPHS, asset)
        else:
            store.put(GRAPHS, asset, after.graph)
    if after.alerts is not before.alerts:
        store.replace_group(MEMBERS, asset, after.alerts)
