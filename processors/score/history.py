"""Noise suppression: which (policy, resource pattern) pairs were dismissed before.

The stateful stage keeps one :class:`DismissalHistory` (learnt from dismissals seen in the stream,
see :func:`processors.pipeline.process_for_asset`); scoring asks it whether an alert matches, and
a match is rubric gate G2 (known noise) and ``suggested_dismissal``.
"""

from __future__ import annotations

import fnmatch
import functools

from pydantic import BaseModel, ConfigDict, Field

from processors.models import Alert

__all__ = ["DismissalHistory"]


@functools.lru_cache(maxsize=4096)
def _compiled_patterns(patterns: tuple[str, ...]) -> tuple[dict[str, int], tuple[tuple[int, str], ...]]:
    """Split patterns into exact ids (first index of each) and globs (with their index), once."""
    exact: dict[str, int] = {}
    globs: list[tuple[int, str]] = []
    for index, pattern in enumerate(patterns):
        if any(ch in pattern for ch in "*?["):
            globs.append((index, pattern))
        else:
            exact.setdefault(pattern, index)
    return exact, tuple(globs)


class DismissalHistory(BaseModel):
    """Policy ids mapped to resource patterns (globs over asset id, resource id or name) dismissed before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def match(self, alert: Alert) -> str | None:
        """Return the pattern that marks ``alert`` as previously dismissed, or None."""
        patterns = self.entries.get(alert.policy_id)
        if not patterns:
            return None
        r = alert.resource
        candidates = [c for c in (r.asset_id, r.resource_id, r.name) if c]
        exact, globs = _compiled_patterns(patterns)
        best: int | None = None
        for candidate in candidates:  # learnt patterns are exact ids: a dict lookup, not a glob scan
            index = exact.get(candidate)
            if index is not None and (best is None or index < best):
                best = index
        for index, pattern in globs:
            if best is not None and index > best:
                break
            if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
                best = index
                break
        return patterns[best] if best is not None else None

    def with_dismissal(self, policy_id: str, pattern: str) -> DismissalHistory:
        """Return a history that also holds (policy_id, pattern); the same object when already held."""
        current = self.entries.get(policy_id, ())
        if pattern in current:
            return self
        return DismissalHistory(entries={**self.entries, policy_id: (*current, pattern)})
