"""Per-route request counts, the way a test proves that a client retried (``GET /_sim/stats``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["RouteStats"]


class RouteStats(dict[str, dict[str, Any]]):
    """Calls and answers per route, keyed as the simulator names its routes (``"METHOD /template"``).

    A plain mapping of route to ``{"calls": n, "statuses": {"200": n, ...}}``, so a test reads
    ``sim.stats["POST /issue"]["calls"]``; a simulator may keep further tallies beside
    ``statuses`` (Splunk HEC counts its reply ``codes``).
    """

    def _entry(self, key: str) -> dict[str, Any]:
        return self.setdefault(key, {"calls": 0, "statuses": {}})

    def call(self, key: str) -> None:
        self._entry(key)["calls"] += 1

    def status(self, key: str, status: int) -> None:
        self.tally(key, "statuses", status)

    def tally(self, key: str, counter: str, value: object) -> None:
        """Count one more ``value`` under ``counter`` of route ``key``."""
        counts = self._entry(key).setdefault(counter, {})
        counts[str(value)] = counts.get(str(value), 0) + 1

    def calls(self, key: str) -> int:
        return int(self.get(key, {}).get("calls", 0))

    def call_counts(self) -> Counter[str]:
        """Calls per route (zero for a route never called)."""
        return Counter({key: int(entry["calls"]) for key, entry in self.items()})

    def status_counts(self) -> dict[str, dict[str, int]]:
        """Answers per route and status code."""
        return {key: dict(entry["statuses"]) for key, entry in self.items()}

    def reset(self) -> None:
        self.clear()

    def as_json(self) -> dict[str, Any]:
        return {"routes": dict(self)}
