"""Result snapshots behind opaque page tokens, for ``/v2/alert`` and ``/search/config`` paging.

A listing's matches are stored once under a random id; page tokens carry the id and an offset,
HMAC-signed, and expire after ``SimConfig.page_token_ttl_s`` like the real service's.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from connectors.prisma.simulator.query import QueryError, decode_token

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["recall", "remember"]

_MAX_SNAPSHOTS = 256


def remember(sim: PrismaCloudSimulator, items: list[Any], meta: dict[str, Any]) -> str:
    """Store ``items`` (and ``meta``) as a new snapshot; returns its id. The oldest are dropped."""
    sid = secrets.token_hex(8)
    sim.snapshots[sid] = {"items": items, "created": sim.clock.now(), **meta}
    while len(sim.snapshots) > _MAX_SNAPSHOTS:
        sim.snapshots.popitem(last=False)
    return sid


def recall(sim: PrismaCloudSimulator, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page token's document and its snapshot; a 400 :class:`QueryError` once expired."""
    doc = decode_token(token, sim.config.secret)
    snap = sim.snapshots.get(str(doc.get("snapshotId")))
    if snap is None or sim.clock.now() - snap["created"] > sim.config.page_token_ttl_s:
        sim.snapshots.pop(str(doc.get("snapshotId")), None)
        raise QueryError("page token expired", subject="pageToken")  # [INFERRED] key
    return doc, snap
