"""Raw-alert traffic from a simulated estate, as the sources would write it to ``prisma.alerts.raw``.

For tests and the benchmark: the same payloads the simulator serves (CSPM ``/v2/alert`` items and
Compute API records in the poller's envelope), wrapped in :class:`RawAlert` exactly as the pollers
wrap them, with a realistic share of *repeats* (the same alert re-polled unchanged), *status
changes* (resolved, dismissed, reopened) and *noise* (malformed records that must be
dead-lettered). Deterministic for a seed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.prisma.simulator.estate import Estate, generate_estate
from processors.models import AlertSource, RawAlert
from processors.normalise.compute import compute_alert_id

__all__ = ["TrafficMix", "raw_alert", "estate_records", "raw_alert_stream"]


@dataclass(frozen=True)
class TrafficMix:
    """Shares of the stream, of all records: the rest are first sightings."""

    repeat_share: float = 0.35
    status_change_share: float = 0.08
    noise_share: float = 0.005


def raw_alert(source: AlertSource, alert_id: str, payload: Any, *, now: datetime, tenant: str = "default") -> RawAlert:
    """Wrap one payload as a source would (same JSON form as the pollers write)."""
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return RawAlert(ingest_id=str(uuid.uuid4()), source=source, source_alert_id=alert_id, tenant=tenant,
                    received_at=now, payload_json=text, content_hash=hashlib.sha256(text.encode()).hexdigest())


def estate_records(estate: Estate) -> list[tuple[AlertSource, str, Any]]:
    """Every finding of an estate once: CSPM alerts, then Compute hosts, images and incidents."""
    records: list[tuple[AlertSource, str, Any]] = [
        (AlertSource.CSPM_API, alert_id, alert) for alert_id, alert in estate.alerts.items()]
    for kind, items in (("host_scan", estate.compute.hosts), ("image_scan", estate.compute.images),
                        ("incident", estate.compute.incidents)):
        for item in items:
            records.append((AlertSource.COMPUTE_API, compute_alert_id(kind, item), {"kind": kind, "record": item}))
    return records


def _status_change(payload: Any, rng: random.Random, bump_ms: int) -> Any:
    changed = copy.deepcopy(payload)
    target = changed["record"] if "record" in changed else changed
    if "status" in target and "policy" in target:  # a CSPM alert
        current = target["status"]
        target["status"] = "open" if current != "open" else rng.choice(["resolved", "dismissed"])
        target["reason"] = {"open": "REOPENED", "resolved": "RESOURCE_UPDATED", "dismissed": "USER_DISMISSED"}[
            target["status"]]
        target["lastSeen"] = int(target.get("lastSeen", 0)) + bump_ms
        target["lastUpdated"] = target["lastSeen"]
    else:  # a Compute record: acknowledging an incident, re-scanning a host
        target["acknowledged"] = not target.get("acknowledged", False)
        target["time"] = target.get("time", "")
        target["scanTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return changed


_NOISE: tuple[Any, ...] = (
    "{not json",
    {"id": "", "status": "open"},
    {"kind": "mystery", "record": {}},
    ["an", "array"],
)


def raw_alert_stream(n: int, *, seed: int = 7, mix: TrafficMix = TrafficMix(),
                     now: datetime | None = None, estate: Estate | None = None) -> Iterator[RawAlert]:
    """Yield ``n`` raw alerts: first sightings, repeats, status changes and noise, interleaved.

    Estates are generated as needed (new seeds) so any ``n`` can be served.
    """
    rng = random.Random(seed)
    emitted: list[tuple[AlertSource, str, Any]] = []
    pending: list[tuple[AlertSource, str, Any]] = []
    estate_seed = seed
    produced = 0
    while produced < n:
        roll = rng.random()
        stamp = now or datetime.now(UTC)
        if roll < mix.noise_share:
            noise = rng.choice(_NOISE)
            text = noise if isinstance(noise, str) else json.dumps(noise)
            yield RawAlert(ingest_id=str(uuid.uuid4()), source=AlertSource.CSPM_API,
                           source_alert_id=f"noise-{produced}", received_at=stamp, payload_json=text,
                           content_hash=hashlib.sha256(text.encode()).hexdigest())
        elif emitted and roll < mix.noise_share + mix.repeat_share:
            source, alert_id, payload = rng.choice(emitted)
            yield raw_alert(source, alert_id, payload, now=stamp)
        elif emitted and roll < mix.noise_share + mix.repeat_share + mix.status_change_share:
            index = rng.randrange(len(emitted))
            source, alert_id, payload = emitted[index]
            changed = _status_change(payload, rng, bump_ms=60_000)
            emitted[index] = (source, alert_id, changed)
            yield raw_alert(source, alert_id, changed, now=stamp)
        else:
            if not pending:
                fresh = estate if (estate is not None and estate_seed == seed) else generate_estate(
                    estate_seed, 500)
                pending = estate_records(fresh)
                rng.shuffle(pending)
                estate_seed += 1
            record = pending.pop()
            emitted.append(record)
            yield raw_alert(*record, now=stamp)
        produced += 1
