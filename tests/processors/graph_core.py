"""A pure stand-in for the fused core over many partitions, for specifications of the asset graph.

Every asset's :class:`AssetView` sits in one dict, and the links the steps send are delivered in
order, after the record that sent them, as the raw topic delivers them to the partition of their
key. Host names resolved to an instance are moved onto it before the step, as the core stage does
by re-keying. The scored alerts come out in the order the core would emit them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import datetime

from connectors.feeds.store import load_default_feeds
from processors.dedupe import DedupeEntry
from processors.enrich import EnrichmentContext, enrich
from processors.graph.resolve import resolve_onto
from processors.graph.state import resolved_instance
from processors.graph.step import AssetView, Step, step_alert, step_link
from processors.models import RawAlert, ScoredAlert
from processors.normalise import normalise_with_data
from processors.normalise.asset import asset_kind
from processors.records import AssetLink
from processors.score import DismissalHistory, ScoringPolicy
from streams.static_inputs import load_scoring_policy

CONTEXT = EnrichmentContext(feeds=load_default_feeds())
POLICY = load_scoring_policy()


class GraphCore:
    """The fused core's state and steps for a whole estate, in one process."""

    def __init__(self, policy: ScoringPolicy = POLICY) -> None:
        self.policy = policy
        self.views: dict[str, AssetView] = {}
        self.dedupe: dict[tuple[str, str], DedupeEntry] = {}
        self.history = DismissalHistory()
        self.scored: list[ScoredAlert] = []
        self.links: list[AssetLink] = []

    def view(self, asset_id: str) -> AssetView:
        return self.views.get(asset_id) or AssetView(asset_id)

    def feed(self, *records: RawAlert, at: datetime | None = None) -> list[ScoredAlert]:
        """Process raw alerts (and every link they cause); return what was emitted meanwhile."""
        start = len(self.scored)
        queue: deque[RawAlert | AssetLink] = deque(records)
        while queue:
            item = queue.popleft()
            step = self._link(item) if isinstance(item, AssetLink) else self._raw(item, at)
            self.links.extend(step.links)
            queue.extend(step.links)
        return self.scored[start:]

    def _raw(self, raw: RawAlert, at: datetime | None) -> Step:
        alert, data = normalise_with_data(raw)
        alert = enrich(alert, CONTEXT, data)
        now = at or alert.ingested_at
        host = alert.resource.asset_id
        instance = resolved_instance(self.views[host].graph, now, self.policy.correlation.graph) \
            if host in self.views and asset_kind(host) == "host" else None
        if instance is not None:
            alert = resolve_onto(alert, instance)
        asset = alert.resource.asset_id
        key = (asset, alert.alert_id)
        view = replace(self.view(asset), dedupe=self.dedupe.get(key), history=self.history)
        step = step_alert(view, alert, data, self.policy, now)
        self._keep(step)
        if step.view.dedupe is not None:
            self.dedupe[key] = step.view.dedupe
        self.history = step.view.history
        return step

    def _link(self, link: AssetLink) -> Step:
        step = step_link(replace(self.view(link.target), dedupe=None, history=self.history), link, self.policy)
        self._keep(step)
        return step

    def _keep(self, step: Step) -> None:
        self.views[step.view.asset_id] = replace(step.view, dedupe=None)
        self.scored.extend(step.scored)

    def incident_of(self, alert_id: str) -> str | None:
        """The incident the last emitted record of ``alert_id`` names."""
        last = [s for s in self.scored if s.alert.alert_id == alert_id]
        return last[-1].incident_id if last else None
