"""A bounded LRU cache with a time-to-live, and a cached resource-config lookup built on it.

The enrichment stage asks Prisma's ``/resource`` API for configurations it does not have; the
same assets recur constantly, so answers (including "not found") are cached. Not thread-safe:
one cache per worker thread or event loop, which is how the stream workers run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["CachedResourceLookup", "ResourceLookup", "TTLCache"]

K = TypeVar("K")
V = TypeVar("V")


class ResourceLookup(Protocol):
    """Returns the configuration JSON of a resource by its resource id (or rrn), None if unknown.

    The Kafka layer plugs a Prisma ``/resource`` client in (wrapped in :class:`CachedResourceLookup`).
    It may raise :class:`processors.errors.ExternalServiceError`; enrichment then goes on without it.
    """

    def __call__(self, resource_id: str, /) -> Mapping[str, Any] | None: ...


class TTLCache(Generic[K, V]):
    """At most ``maxsize`` entries, each valid for ``ttl_s`` seconds; least recently used evicted first.

    ``clock`` (seconds, monotonic) is the caller's: the stream layer passes ``time.monotonic``,
    tests a fake; nothing in :mod:`processors` reads a clock itself.
    """

    def __init__(self, maxsize: int, ttl_s: float, *, clock: Callable[[], float]) -> None:
        if maxsize < 1 or ttl_s <= 0:
            raise ValueError("maxsize must be >= 1 and ttl_s > 0")
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> tuple[bool, V | None]:
        """Return ``(True, value)`` for a live entry, ``(False, None)`` when absent or expired."""
        item = self._data.get(key)
        if item is None:
            self.misses += 1
            return False, None
        expires, value = item
        if expires <= self._clock():
            del self._data[key]
            self.misses += 1
            return False, None
        self._data.move_to_end(key)
        self.hits += 1
        return True, value

    def put(self, key: K, value: V, ttl_s: float | None = None) -> None:
        """Store ``value``; ``ttl_s`` overrides the default time-to-live for this entry."""
        self._data[key] = (self._clock() + (self.ttl_s if ttl_s is None else ttl_s), value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()


class CachedResourceLookup:
    """Wraps a :class:`ResourceLookup` with a :class:`TTLCache`; "not found" is cached for ``negative_ttl_s``.

    Errors from the wrapped lookup are not cached and propagate to the caller.
    """

    def __init__(
        self,
        lookup: ResourceLookup,
        *,
        maxsize: int = 10_000,
        ttl_s: float = 900.0,
        negative_ttl_s: float = 120.0,
        clock: Callable[[], float],
    ) -> None:
        self._lookup = lookup
        self._negative_ttl_s = negative_ttl_s
        self.cache: TTLCache[str, Mapping[str, Any] | None] = TTLCache(maxsize, ttl_s, clock=clock)

    def __call__(self, resource_id: str, /) -> Mapping[str, Any] | None:
        hit, value = self.cache.get(resource_id)
        if hit:
            return value
        value = self._lookup(resource_id)
        self.cache.put(resource_id, value, None if value is not None else self._negative_ttl_s)
        return value
