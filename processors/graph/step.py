"""The fused core's step for one record of one asset, graph included: state in, new state out.

:func:`step_alert` takes an alert on the view's asset (dedupe, correlate, score, as
:func:`processors.pipeline.process_for_asset` does) and adds the asset graph: the links and host
aliases the alert's payload proves are merged into the asset's :class:`AssetGraph` and announced
to the other ends; the finding is forwarded to the hubs the asset is attached to; and when the
asset's incident changes, its members are re-emitted (:mod:`processors.graph.reemit`).
:func:`step_link` takes an :class:`AssetLink` another partition (or this one) addressed to the
view's asset. Both return a :class:`Step`: the new view, the scored alerts to emit (the record's
own first) and the links to send. ``now`` is always a record time, never the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from processors.correlate import (
    AssetState,
    CorrelationResult,
    CorrelationSettings,
    GraphSettings,
    correlate,
    drop_linked,
    finding_key,
    incident_of,
)
from processors.dedupe import Decision, DedupeEntry, decide
from processors.errors import InvalidRecordError
from processors.graph.derive import Derived, derive
from processors.graph.reemit import leaving, member_keys, reemit
from processors.graph.state import AssetGraph, Neighbour, live, resolved_instance, upsert, without
from processors.models import Alert, AlertStatus, ScoredAlert, UpdateKind
from processors.records import AssetLink, LinkKind
from processors.score import DismissalHistory, ScoringPolicy, score

__all__ = ["AssetView", "Step", "step_alert", "step_link"]

_KIND = {Decision.NEW: UpdateKind.NEW, Decision.STATUS_CHANGE: UpdateKind.STATUS_CHANGE,
         Decision.RECURRENCE: UpdateKind.RECURRENCE}
_STAGE = "graph"


@dataclass(frozen=True, slots=True)
class AssetView:
    """The state one record of one asset reads: the Kafka layer's tables, narrowed to the asset.

    ``dedupe`` is the entry of the alert being processed (None for a link), ``alerts`` the kept
    alerts of the asset's open members by finding key (own: alert id; linked: ``<asset>|<id>``).
    """

    asset_id: str
    dedupe: DedupeEntry | None = None
    state: AssetState | None = None
    graph: AssetGraph | None = None
    alerts: Mapping[str, Alert] = field(default_factory=dict)
    history: DismissalHistory = field(default_factory=DismissalHistory)


@dataclass(frozen=True, slots=True)
class Step:
    """What one record did: the new view, scored alerts to emit, links to send."""

    view: AssetView
    scored: tuple[ScoredAlert, ...] = ()
    links: tuple[AssetLink, ...] = ()


def _link(kind: LinkKind, target: str, hub: str, satellite: str, relation: str, now: datetime, *,
          present: bool = True, alert: Alert | None = None) -> AssetLink:
    return AssetLink(kind=kind, target=target, hub=hub, satellite=satellite, relation=relation, present=present,
                     alert=alert, at=now)


def _result_for(state: AssetState | None, alert: Alert, cfg: CorrelationSettings) -> CorrelationResult:
    result = incident_of(state, cfg)
    if result is None or alert.status is not AlertStatus.OPEN:
        return CorrelationResult(None, (), frozenset({alert.module}), False, "")
    return result


def _prune(alerts: dict[str, Alert], state: AssetState | None) -> None:
    keep = {finding_key(f.asset_id, f.alert_id) for f in state.findings} if state else set()
    for key in [k for k in alerts if k not in keep]:
        del alerts[key]


def _own_open(state: AssetState | None, alerts: Mapping[str, Alert]) -> list[Alert]:
    if state is None:
        return []
    found = (alerts.get(f.alert_id) for f in state.findings if not f.asset_id)
    return [a for a in found if a is not None and a.status is AlertStatus.OPEN]


def _members_to(hub: str, asset: str, relation: str, own: list[Alert], now: datetime) -> list[AssetLink]:
    return [_link(LinkKind.MEMBER, hub, hub, asset, relation, now, alert=a) for a in own]


def _confirm(neighbours: tuple[Neighbour, ...], wanted: Sequence[tuple[str, str]], now: datetime,
             settings: GraphSettings) -> tuple[tuple[Neighbour, ...], list[tuple[str, str]]]:
    """``neighbours`` with every wanted ``(asset id, relation)`` confirmed at ``now``, and those of
    them due to be announced: new ones, and ones last announced half a link lifetime ago or more."""
    due: list[tuple[str, str]] = []
    for other, relation in wanted:
        before = next((n for n in neighbours if n.asset_id == other and n.relation == relation), None)
        announce = before is None or before.announced is None or before.announced <= now - settings.link_ttl / 2
        neighbours, _ = upsert(neighbours, other, relation, now, settings, announced=now if announce else None)
        if announce:
            due.append((other, relation))
    return neighbours, due


@dataclass
class _Merge:
    """The asset graph while a record's derivations are merged into it."""

    graph: AssetGraph
    state: AssetState | None
    links: list[AssetLink] = field(default_factory=list)
    new_hubs: set[str] = field(default_factory=set)


def _merge(view: AssetView, state: AssetState | None, derived: Derived, alerts: Mapping[str, Alert],
           now: datetime, cfg: CorrelationSettings) -> _Merge:
    """Merge what the record's payload proves into the graph; announce what is new or due."""
    g, gcfg, asset = view.graph or AssetGraph(asset_id=view.asset_id), cfg.graph, view.asset_id
    half = gcfg.link_ttl / 2
    m = _Merge(g.model_copy(update={"satellites": live(g.satellites, now, gcfg), "hubs": live(g.hubs, now, gcfg),
                                    "alias_of": live(g.alias_of, now, gcfg)}), state)
    sats, hubs = m.graph.satellites, m.graph.hubs
    wanted_sats = sorted({(e.satellite, e.relation) for e in derived.edges if e.hub == asset})
    wanted_hubs = sorted({(e.hub, e.relation) for e in derived.edges if e.satellite == asset})
    sats, due = _confirm(sats, wanted_sats, now, gcfg)
    m.links.extend(_link(LinkKind.EDGE, sat, asset, sat, relation, now) for sat, relation in due)
    for n in [n for n in sats if n.relation in derived.authoritative and n.announced is not None
              and (n.asset_id, n.relation) not in wanted_sats]:
        sats = without(sats, n.asset_id, n.relation)
        m.links.append(_link(LinkKind.EDGE, n.asset_id, asset, n.asset_id, n.relation, now, present=False))
        m.state = drop_linked(m.state, n.asset_id, now, cfg)
    own = _own_open(m.state, alerts) if wanted_hubs else []
    hubs, due = _confirm(hubs, wanted_hubs, now, gcfg)
    for hub, relation in due:
        m.links.append(_link(LinkKind.EDGE, hub, hub, asset, relation, now))
        m.links.extend(_members_to(hub, asset, relation, own, now))
        m.new_hubs.add(hub)
    for n in [n for n in hubs if n.relation in derived.authoritative and n.announced is not None
              and (n.asset_id, n.relation) not in wanted_hubs]:
        hubs = without(hubs, n.asset_id, n.relation)
        m.links.append(_link(LinkKind.EDGE, n.asset_id, n.asset_id, asset, n.relation, now, present=False))
    update: dict[str, Any] = {"satellites": sats, "hubs": hubs}
    if derived.aliases:
        stale = g.aliases_announced is None or g.aliases_announced <= now - half
        if stale or set(derived.aliases) != set(g.aliases):
            m.links.extend(_link(LinkKind.ALIAS, form, asset, form, "alias", now) for form in derived.aliases)
            m.links.extend(_link(LinkKind.ALIAS, form, asset, form, "alias", now, present=False)
                           for form in g.aliases if form not in derived.aliases)
            update.update(aliases=derived.aliases, aliases_announced=now)
    m.graph = m.graph.model_copy(update=update)
    return m


def step_alert(view: AssetView, alert: Alert, data: Mapping[str, Any] | None, policy: ScoringPolicy,
               now: datetime, *, rescore: bool = False) -> Step:
    """Dedupe, correlate and score ``alert`` (on ``view.asset_id``), merge its graph facts, forward
    it to its hubs, and re-emit the incident's members when the incident changed.

    ``rescore`` (a replayed record, ``prismaflow replay``): when the alert is the very version dedupe
    accepted last (same content hash), it is scored again under today's policy and passed on as a
    ``RECURRENCE`` update instead of being dropped; an older version is still dropped, so a replay
    never reverts a status or reopens what was resolved since.
    """
    cfg = policy.correlation
    decision, entry = decide(view.dedupe, alert)
    replayed = (rescore and decision is Decision.DROP and view.dedupe is not None
                and alert.content_hash == view.dedupe.content_hash)
    state: AssetState | None = correlate(view.state, alert, now, None, cfg)[1]
    history = view.history
    if (decision is Decision.STATUS_CHANGE and alert.status is AlertStatus.DISMISSED
            and alert.status_reason in policy.suppression.learn_from_reasons):
        history = history.with_dismissal(alert.policy_id, alert.resource.asset_id)
    key = alert.alert_id
    alerts = dict(view.alerts)
    if alert.status is AlertStatus.OPEN:
        if decision is not Decision.DROP or key not in alerts:
            alerts[key] = alert
    else:
        alerts.pop(key, None)
    graph, new_hubs = view.graph, set[str]()
    links: list[AssetLink] = []
    derived = derive(alert, data)
    if not derived.empty or (graph is not None and not graph.empty):
        merged = _merge(view, state, derived, alerts, now, cfg)
        graph, state, links, new_hubs = merged.graph, merged.state, merged.links, merged.new_hubs
    _prune(alerts, state)
    scored: list[ScoredAlert] = []
    if decision is not Decision.DROP or replayed:
        kind = UpdateKind.RECURRENCE if replayed else _KIND[decision]
        primary = score(alert, _result_for(state, alert, cfg), history, policy, now, update_kind=kind)
        scored.append(leaving(primary, view.state, state, key) if alert.status is not AlertStatus.OPEN else primary)
    scored.extend(reemit(view.state, state, alerts, history, policy, now,
                         skip=key if decision is not Decision.DROP or replayed else None))
    if graph is not None and decision is not Decision.DROP:
        # A hub just told of this asset got its open findings already; a closing one it must hear of.
        closing = alert.status is not AlertStatus.OPEN
        links.extend(_link(LinkKind.MEMBER, n.asset_id, n.asset_id, view.asset_id, n.relation, now, alert=alert)
                     for n in live(graph.hubs, now, cfg.graph) if closing or n.asset_id not in new_hubs)
    new_view = AssetView(view.asset_id, entry, state, None if graph is None or graph.empty else graph, alerts, history)
    return Step(new_view, tuple(scored), tuple(links))


def _handover(graph: AssetGraph, view: AssetView, instance: str, now: datetime) -> list[AssetLink]:
    """A host known by name was just resolved to ``instance``: pass on what it collected as a hub."""
    links = [_link(LinkKind.EDGE, instance, instance, n.asset_id, n.relation, now) for n in graph.satellites]
    relation = {n.asset_id: n.relation for n in graph.satellites}
    for f in view.state.findings if view.state else ():
        member = view.alerts.get(finding_key(f.asset_id, f.alert_id))
        if f.asset_id and member is not None:
            links.append(_link(LinkKind.MEMBER, instance, instance, f.asset_id, relation.get(f.asset_id, ""), now,
                               alert=member))
    return links


def step_link(view: AssetView, link: AssetLink, policy: ScoringPolicy) -> Step:
    """Apply a link addressed to ``view.asset_id``; raises InvalidRecordError for a malformed one."""
    cfg, now, asset = policy.correlation, link.at, view.asset_id
    if link.target != asset:
        raise InvalidRecordError(f"link for {link.target!r} keyed as {asset!r}", stage=_STAGE)
    graph = view.graph or AssetGraph(asset_id=asset)
    if link.kind is LinkKind.ALIAS:
        before = resolved_instance(view.graph, now, cfg.graph)
        claims = live(graph.alias_of, now, cfg.graph)
        claims = upsert(claims, link.hub, "alias", now, cfg.graph)[0] if link.present else without(claims, link.hub)
        graph = graph.model_copy(update={"alias_of": claims})
        after = resolved_instance(graph, now, cfg.graph)
        links = _handover(graph, view, after, now) if after is not None and after != before else []
        return Step(replace(view, graph=None if graph.empty else graph), (), tuple(links))
    instance = resolved_instance(graph, now, cfg.graph)
    if instance is not None and link.hub == asset:
        # A host known only by name that is an instance: what is addressed to it as a hub is the instance's.
        return Step(view, (), (link.model_copy(update={"target": instance, "hub": instance}),))
    if link.kind is LinkKind.EDGE:
        return _edge(view, graph, link, policy)
    if link.alert is None or link.alert.resource.asset_id != link.satellite or link.hub != asset:
        raise InvalidRecordError("member link without its satellite's alert, or not for this hub", stage=_STAGE)
    return _member(view, graph, link, link.alert, policy)


def _edge(view: AssetView, graph: AssetGraph, link: AssetLink, policy: ScoringPolicy) -> Step:
    cfg, now, asset = policy.correlation, link.at, view.asset_id
    if link.hub == asset:
        sats = live(graph.satellites, now, cfg.graph)
        if link.present:
            graph = graph.model_copy(update={"satellites": upsert(sats, link.satellite, link.relation, now, cfg.graph)[0]})
            return Step(replace(view, graph=graph))
        graph = graph.model_copy(update={"satellites": without(sats, link.satellite, link.relation)})
        state = drop_linked(view.state, link.satellite, now, cfg)
        alerts = dict(view.alerts)
        _prune(alerts, state)
        scored = reemit(view.state, state, alerts, view.history, policy, now)
        return Step(replace(view, state=state, graph=None if graph.empty else graph, alerts=alerts), tuple(scored))
    if link.satellite != asset:
        raise InvalidRecordError(f"edge {link.hub!r}-{link.satellite!r} sent to {asset!r}", stage=_STAGE)
    hubs = live(graph.hubs, now, cfg.graph)
    if not link.present:
        graph = graph.model_copy(update={"hubs": without(hubs, link.hub, link.relation)})
        return Step(replace(view, graph=None if graph.empty else graph))
    graph = graph.model_copy(update={"hubs": upsert(hubs, link.hub, link.relation, now, cfg.graph)[0]})
    # New, or re-announced: (re)send this asset's open findings so the hub's copies stay fresh.
    own = _own_open(view.state, view.alerts)
    return Step(replace(view, graph=graph), (), tuple(_members_to(link.hub, asset, link.relation, own, now)))


def _member(view: AssetView, graph: AssetGraph, link: AssetLink, alert: Alert, policy: ScoringPolicy) -> Step:
    cfg, now, asset = policy.correlation, link.at, view.asset_id
    if not any(n.asset_id == link.satellite for n in live(graph.satellites, now, cfg.graph)):
        return Step(view)  # not (or no longer) linked: a finding sent before the link went away
    key = finding_key(link.satellite, alert.alert_id)
    previous = view.alerts.get(key)
    _, state = correlate(view.state, alert, now, None, cfg, hub=asset)
    alerts = dict(view.alerts)
    if alert.status is AlertStatus.OPEN:
        alerts[key] = alert
    else:
        alerts.pop(key, None)
    _prune(alerts, state)
    scored: list[ScoredAlert] = []
    if alert.status is not AlertStatus.OPEN and key in member_keys(view.state):
        closed = score(alert, None, view.history, policy, now, update_kind=UpdateKind.STATUS_CHANGE)
        scored.append(leaving(closed, view.state, state, key).model_copy(update={"incident_update": True}))
    changed = previous is None or previous.content_hash != alert.content_hash
    scored.extend(reemit(view.state, state, alerts, view.history, policy, now, force=key if changed else None))
    return Step(replace(view, state=state, alerts=alerts), tuple(scored))
