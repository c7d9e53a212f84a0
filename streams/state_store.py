"""Partition state stores with changelog recovery, for the stateful stages.

A stateful stage keeps its state per *input partition*, in a :class:`PartitionStore` that the
:class:`StateStore` it declares hands it. The stage reads and changes entries through named
:class:`Namespace` objects (``store.get(DEDUPE, finding)``, ``store.put(ASSETS, asset, state)``);
it never builds a changelog key or record itself. Every change is also recorded as a changelog
record for the same partition of the store's changelog topic, last write per key; the worker takes
those records after each input record and writes them **in the stage's transaction**, with the
outputs and the input offsets (:mod:`streams.worker`). So the committed changelog always matches the
committed offsets, and:

* on assignment the worker restores a partition by reading its changelog to the end
  (:meth:`StateStore.restore`, fed by :func:`streams.topic_reader.read_to_end`);
* when a transaction is aborted, it drops the partition and restores it again (the rewind), so the
  state matches the offsets it seeks back to;
* on revocation it drops the partition.

The changelog's on-topic format is that of the hand-made stores it replaces, so the state topics of
a running deployment stay readable: one envelope record type per topic (``ScoringState``, one field
set per namespace), keys ``<prefix>:<key>`` for a table (``d:<asset>|<alert>``), ``<prefix>:<group>|<key>``
for a grouped table (``m:<asset>|<finding>``), and the bare ``<prefix>`` for a single value
(``h``); a tombstone (``None``) removes a table entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel

from streams.publish import OutgoingRecord

__all__ = ["Namespace", "NamespaceKind", "PartitionStore", "StateStore"]

log = logging.getLogger(__name__)

V = TypeVar("V")

_EMPTY: Mapping[str, Any] = {}


class NamespaceKind(Enum):
    """How a namespace holds its entries."""

    TABLE = "table"
    """key → value (``<prefix>:<key>`` on the changelog)."""
    GROUPED = "grouped"
    """group → {key → value}, read and replaced a group at a time (``<prefix>:<group>|<key>``)."""
    VALUE = "value"
    """One value per partition (the bare ``<prefix>``)."""


@dataclass(frozen=True)
class Namespace(Generic[V]):
    """A named kind of entry in a partition store.

    ``prefix`` is its mark in changelog keys (unique per store, no ``:``); ``field`` the field of the
    store's envelope record that carries its values.
    """

    name: str
    prefix: str
    field: str
    kind: NamespaceKind = NamespaceKind.TABLE


class PartitionStore:
    """The state of one input partition: what a stage reads and changes while handling a record.

    Each change is kept in memory at once and recorded as a pending changelog record
    (:meth:`take_writes`). A stage computes its new state first and changes the store only once it
    knows the record succeeds: a change already made stays, and is written, even if the stage raises
    afterwards.
    """

    def __init__(self, layout: StateStore, partition: int) -> None:
        self._layout = layout
        self.partition = partition
        self._tables: dict[str, dict[str, Any]] = {
            ns.name: {} for ns in layout.namespaces if ns.kind is not NamespaceKind.VALUE}
        self._values: dict[str, Any] = {}
        self._writes: dict[str, OutgoingRecord] = {}

    # -- reading ----------------------------------------------------------------------------------
    def get(self, namespace: Namespace[V], key: str) -> V | None:
        """The entry of a table namespace under ``key``, or None."""
        return cast("V | None", self._tables[namespace.name].get(key))

    def table(self, namespace: Namespace[V]) -> Mapping[str, V]:
        """Every entry of a table namespace (read only)."""
        return self._tables[namespace.name]

    def group(self, namespace: Namespace[V], group: str) -> Mapping[str, V]:
        """The entries of ``group`` in a grouped namespace; the same object until the group is replaced."""
        return cast("Mapping[str, V]", self._tables[namespace.name].get(group, _EMPTY))

    def groups(self, namespace: Namespace[V]) -> Mapping[str, Mapping[str, V]]:
        """Every group of a grouped namespace (read only)."""
        return self._tables[namespace.name]

    def value(self, namespace: Namespace[V], default: V) -> V:
        """The single value of a value namespace, ``default`` until one is set."""
        return cast(V, self._values.get(namespace.name, default))

    def size(self) -> int:
        """Entries held (table entries and group members; single values are not counted)."""
        total = 0
        for ns in self._layout.namespaces:
            if ns.kind is NamespaceKind.TABLE:
                total += len(self._tables[ns.name])
            elif ns.kind is NamespaceKind.GROUPED:
                total += sum(len(group) for group in self._tables[ns.name].values())
        return total

    # -- changing ---------------------------------------------------------------------------------
    def put(self, namespace: Namespace[V], key: str, value: V) -> None:
        """Set a table entry."""
        self._tables[namespace.name][key] = value
        self._write(namespace, f"{namespace.prefix}:{key}", value)

    def delete(self, namespace: Namespace[V], key: str) -> None:
        """Remove a table entry (a tombstone on the changelog, also when it was absent)."""
        self._tables[namespace.name].pop(key, None)
        self._write(namespace, f"{namespace.prefix}:{key}", None)

    def set_value(self, namespace: Namespace[V], value: V) -> None:
        """Set the single value of a value namespace."""
        self._values[namespace.name] = value
        self._write(namespace, namespace.prefix, value)

    def replace_group(self, namespace: Namespace[V], group: str, entries: Mapping[str, V]) -> None:
        """Make ``group`` hold exactly ``entries``: writes each entry that is not the very object the
        group held under its key, and a tombstone for each key that is gone."""
        table = self._tables[namespace.name]
        before: Mapping[str, Any] = table.get(group, _EMPTY)
        for key, value in entries.items():
            if before.get(key) is not value:
                self._write(namespace, f"{namespace.prefix}:{group}|{key}", value)
        for key in before:
            if key not in entries:
                self._write(namespace, f"{namespace.prefix}:{group}|{key}", None)
        if entries:
            table[group] = dict(entries)
        else:
            table.pop(group, None)

    def take_writes(self) -> list[OutgoingRecord]:
        """The changelog records of the changes since the last call (last one per key), and forget them."""
        if not self._writes:
            return []
        writes = list(self._writes.values())
        self._writes.clear()
        return writes

    def _write(self, namespace: Namespace[Any], key: str, value: Any) -> None:
        envelope = None if value is None else self._layout.envelope(**{namespace.field: value})
        self._writes[key] = OutgoingRecord(self._layout.changelog_topic, key, envelope, partition=self.partition)

    # -- restoring --------------------------------------------------------------------------------
    def apply_changelog(self, key: str, envelope: BaseModel | None) -> None:
        """Apply one committed changelog record (oldest first) without writing it again."""
        prefix, _, rest = key.partition(":")
        namespace = self._layout.namespace_of(prefix)
        if namespace is None:
            raise ValueError(f"changelog key {key!r} names no namespace of this store")
        value = getattr(envelope, namespace.field) if envelope is not None else None
        if namespace.kind is NamespaceKind.VALUE:
            if value is not None:
                self._values[namespace.name] = value
            return
        table = self._tables[namespace.name]
        if namespace.kind is NamespaceKind.TABLE:
            if value is None:
                table.pop(rest, None)
            else:
                table[rest] = value
            return
        group, _, member = rest.partition("|")
        if value is None:
            entries = table.get(group)
            if entries is not None:
                entries.pop(member, None)
                if not entries:
                    del table[group]
        else:
            table.setdefault(group, {})[member] = value


class StateStore:
    """The partition stores of one stateful stage, and the layout of its changelog topic.

    ``envelope`` is the changelog's record type (one optional field per namespace) and ``decode``
    turns a changelog value back into it. The worker owns the lifecycle (:meth:`restore`,
    :meth:`drop`, :meth:`take_writes`); the stage only calls :meth:`partition`.
    """

    def __init__(self, name: str, changelog_topic: str, envelope: type[BaseModel],
                 namespaces: Sequence[Namespace[Any]], decode: Callable[[bytes], BaseModel]) -> None:
        prefixes = [ns.prefix for ns in namespaces]
        if len(set(prefixes)) != len(prefixes) or any(":" in p or "|" in p for p in prefixes):
            raise ValueError(f"namespace prefixes must be unique, without ':' or '|': {prefixes}")
        self.name = name
        self.changelog_topic = changelog_topic
        self.envelope = envelope
        self.namespaces = tuple(namespaces)
        self._by_prefix = {ns.prefix: ns for ns in namespaces}
        self._decode = decode
        self.partitions: dict[int, PartitionStore] = {}

    def namespace_of(self, prefix: str) -> Namespace[Any] | None:
        return self._by_prefix.get(prefix)

    def partition(self, partition: int) -> PartitionStore:
        """The store of an assigned partition; RuntimeError for one this worker does not hold."""
        store = self.partitions.get(partition)
        if store is None:
            raise RuntimeError(f"partition {partition} is not assigned to this worker")
        return store

    def restore(self, partition: int, changelog: Iterable[tuple[bytes, bytes | None]]) -> PartitionStore:
        """Rebuild ``partition`` from its committed changelog records (key, value or None), oldest
        first, and hold it. Nothing is held if reading the changelog fails."""
        started = time.perf_counter()
        store = PartitionStore(self, partition)
        for key, value in changelog:
            store.apply_changelog(key.decode(), self._decode(value) if value is not None else None)
        self.partitions[partition] = store
        log.info("state restored stage=%s partition=%d entries=%d elapsed_s=%.3f", self.name, partition,
                 store.size(), time.perf_counter() - started)
        return store

    def drop(self, partition: int) -> None:
        """Forget ``partition`` (revoked, or about to be restored again), pending writes included."""
        self.partitions.pop(partition, None)

    def take_writes(self) -> list[OutgoingRecord]:
        """The pending changelog records of every partition (see :meth:`PartitionStore.take_writes`)."""
        writes: list[OutgoingRecord] = []
        for store in self.partitions.values():
            writes.extend(store.take_writes())
        return writes

    def size(self) -> int:
        return sum(store.size() for store in self.partitions.values())
