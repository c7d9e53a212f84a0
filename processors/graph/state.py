"""What the stream core remembers of the asset graph, per asset: its neighbours and host aliases.

An :class:`AssetGraph` lives beside the asset's correlation state (changelog key ``g:<asset id>``)
in the partition that owns the asset. Both ends of a link remember it: the hub lists its
satellites (whose forwarded findings it accepts), the satellite lists its hubs (where it forwards
its findings). The end that *derives* a link from its own payloads marks it ``announced`` and
re-announces it after half the link lifetime, so the other end's copy stays fresh; a link not
confirmed for ``link_ttl_hours`` is forgotten at the next touch of the asset.

All functions are pure: state in, new state out, times from the records.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from processors.correlate import GraphSettings

__all__ = ["AssetGraph", "Neighbour", "live", "resolved_instance", "upsert", "without"]


class Neighbour(BaseModel):
    """One end of a link as the other end remembers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_id: str
    relation: str = Field(description="instance_profile, security_group, runs_image, or alias")
    seen: datetime = Field(description="When the link was last confirmed (record time)")
    announced: datetime | None = Field(
        default=None, description="Set on the end that derives the link: when it last told the other end")


class AssetGraph(BaseModel):
    """The asset graph around one asset, as its partition knows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_id: str
    satellites: tuple[Neighbour, ...] = Field(default=(), description="As a hub: assets attached to it")
    hubs: tuple[Neighbour, ...] = Field(default=(), description="As a satellite: the hubs it is attached to")
    aliases: tuple[str, ...] = Field(default=(), description="As an instance: host asset ids that name it")
    aliases_announced: datetime | None = None
    alias_of: tuple[Neighbour, ...] = Field(
        default=(), description="As a host known only by name: the instances whose configuration names it")

    @property
    def empty(self) -> bool:
        return not (self.satellites or self.hubs or self.aliases or self.alias_of)


def live(neighbours: tuple[Neighbour, ...], now: datetime, settings: GraphSettings) -> tuple[Neighbour, ...]:
    """The neighbours confirmed within the link lifetime."""
    cutoff = now - settings.link_ttl
    if all(n.seen >= cutoff for n in neighbours):
        return neighbours
    return tuple(n for n in neighbours if n.seen >= cutoff)


def upsert(neighbours: tuple[Neighbour, ...], asset_id: str, relation: str, now: datetime, settings: GraphSettings,
           *, announced: datetime | None = None) -> tuple[tuple[Neighbour, ...], Neighbour | None]:
    """``neighbours`` with ``asset_id`` confirmed at ``now``; also the entry it had before (None: new).

    ``announced`` (the deriving end) replaces the entry's announcement time when given. At most
    ``max_neighbours`` are kept, the most recently confirmed.
    """
    before = next((n for n in neighbours if n.asset_id == asset_id and n.relation == relation), None)
    if before is not None and before.seen >= now - settings.refresh and announced is None:
        return neighbours, before  # confirmed recently: unchanged, so nothing to write
    entry = Neighbour(asset_id=asset_id, relation=relation, seen=max(now, before.seen) if before else now,
                      announced=announced if announced is not None else (before.announced if before else None))
    rest = [n for n in neighbours if n is not before]
    rest.append(entry)
    if len(rest) > settings.max_neighbours:
        rest.sort(key=lambda n: (n.seen, n.asset_id), reverse=True)
        rest = rest[: settings.max_neighbours]
    rest.sort(key=lambda n: (n.relation, n.asset_id))
    return tuple(rest), before


def without(neighbours: tuple[Neighbour, ...], asset_id: str, relation: str | None = None) -> tuple[Neighbour, ...]:
    """``neighbours`` less ``asset_id`` (of ``relation``, or of any relation)."""
    return tuple(n for n in neighbours if not (n.asset_id == asset_id and relation in (None, n.relation)))


def resolved_instance(graph: AssetGraph | None, now: datetime, settings: GraphSettings) -> str | None:
    """The one instance a host known only by name is, or None (unknown, or claimed by several).

    Private-IP host names repeat across accounts: ``other::global:host/ip-10-0-1-5.ec2.internal``
    may be claimed by an instance in each of them, and then it is not resolved at all.
    """
    if graph is None or not graph.alias_of:
        return None
    claims = {n.asset_id for n in live(graph.alias_of, now, settings)}
    return claims.pop() if len(claims) == 1 else None
