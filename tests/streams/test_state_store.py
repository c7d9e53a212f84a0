"""The partition state store: named namespaces, every change recorded as a changelog record of its
partition (last write per key), and a partition restored from those records equal to the one held.
The changelog keys are those the hand-made scoring stores wrote, so a running deployment's state
topic restores unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from processors.dedupe import DedupeEntry
from processors.models import AlertStatus
from processors.records import ScoringState
from processors.score import DismissalHistory
from streams.publish import OutgoingRecord
from streams.scoring_state import ASSETS, DEDUPE, HISTORY, MEMBERS, scoring_store
from streams.serde import AvroSerde
from streams.state_store import Namespace, NamespaceKind, StateStore

CHANGELOG = "t.changelog"


class Envelope(BaseModel):
    """A changelog record type of a test store: one optional field per namespace."""

    count: int | None = None
    label: str | None = None
    total: int | None = None


COUNTS: Namespace[int] = Namespace("counts", "c", "count")
LABELS: Namespace[str] = Namespace("labels", "l", "label", NamespaceKind.GROUPED)
TOTAL: Namespace[int] = Namespace("total", "t", "total", NamespaceKind.VALUE)


def _store() -> StateStore:
    return StateStore("test", CHANGELOG, Envelope, (COUNTS, LABELS, TOTAL), Envelope.model_validate_json)


def _as_changelog(records: list[OutgoingRecord]) -> list[tuple[bytes, bytes | None]]:
    out = []
    for record in records:
        assert record.topic == CHANGELOG and record.key is not None
        out.append((record.key.encode(), record.value.model_dump_json().encode() if record.value is not None else None))
    return out


def test_changes_are_kept_and_written_to_the_changelog_of_their_own_partition() -> None:
    store = _store()
    state = store.restore(2, [])
    state.put(COUNTS, "asset-1", 1)
    state.set_value(TOTAL, 7)
    state.replace_group(LABELS, "asset-1", {"f1": "x"})
    assert state.get(COUNTS, "asset-1") == 1 and state.value(TOTAL, 0) == 7
    assert state.group(LABELS, "asset-1") == {"f1": "x"}
    writes = store.take_writes()
    assert [(w.key, w.partition) for w in writes] == [("c:asset-1", 2), ("t", 2), ("l:asset-1|f1", 2)]
    assert writes[0].value == Envelope(count=1)
    assert store.take_writes() == []  # taken once


def test_only_the_last_write_per_key_is_taken_and_a_delete_is_a_tombstone() -> None:
    store = _store()
    state = store.restore(0, [])
    for n in range(5):
        state.put(COUNTS, "hot", n)
    state.put(COUNTS, "gone", 1)
    state.delete(COUNTS, "gone")
    writes = {w.key: w.value for w in store.take_writes()}
    assert writes == {"c:hot": Envelope(count=4), "c:gone": None}
    assert state.get(COUNTS, "gone") is None


def test_replacing_a_group_writes_the_changed_members_and_tombstones_the_removed_ones() -> None:
    store = _store()
    state = store.restore(0, [])
    kept = "kept"
    state.replace_group(LABELS, "a", {"one": kept, "two": "b"})
    store.take_writes()
    state.replace_group(LABELS, "a", {"one": kept, "three": "c"})
    assert {w.key: w.value for w in store.take_writes()} == {"l:a|three": Envelope(label="c"), "l:a|two": None}
    state.replace_group(LABELS, "a", {})
    assert state.groups(LABELS) == {}
    assert {w.key for w in store.take_writes()} == {"l:a|one", "l:a|three"}


def test_a_partition_restored_from_its_changelog_equals_the_one_held() -> None:
    store = _store()
    held = store.restore(1, [])
    log: list[tuple[bytes, bytes | None]] = []
    held.put(COUNTS, "a", 1)
    held.put(COUNTS, "b", 2)
    held.replace_group(LABELS, "a", {"x": "1", "y": "2"})
    log += _as_changelog(store.take_writes())
    held.delete(COUNTS, "b")
    held.put(COUNTS, "a", 3)
    held.set_value(TOTAL, 9)
    held.replace_group(LABELS, "a", {"y": "2"})
    log += _as_changelog(store.take_writes())

    again = _store().restore(1, log)
    assert again.table(COUNTS) == held.table(COUNTS) == {"a": 3}
    assert again.groups(LABELS) == held.groups(LABELS) == {"a": {"y": "2"}}
    assert again.value(TOTAL, 0) == 9 and again.size() == held.size() == 2
    assert again.take_writes() == []  # restoring writes nothing back


def test_dropping_a_partition_forgets_its_state_and_its_pending_writes() -> None:
    store = _store()
    store.restore(0, []).put(COUNTS, "a", 1)
    store.drop(0)
    assert store.take_writes() == []
    with pytest.raises(RuntimeError, match="partition 0 is not assigned"):
        store.partition(0)


def test_namespaces_of_one_store_need_distinct_prefixes_and_a_changelog_key_must_name_one() -> None:
    with pytest.raises(ValueError, match="unique"):
        StateStore("test", CHANGELOG, Envelope, (COUNTS, Namespace("other", "c", "label")), Envelope.model_validate_json)
    with pytest.raises(ValueError, match="names no namespace"):
        _store().restore(0, [(b"z:unknown", b'{"count": 1}')])


def test_the_scoring_store_reads_changelog_records_in_the_format_the_stages_wrote_before_it() -> None:
    """Records as the hand-made store wrote them to prisma.score.changelog (keys ``d:``, ``a:``, ``h``,
    values ``ScoringState`` in Avro), including a tombstone after a value."""
    serde = AvroSerde()
    topic = "prisma.score.changelog"
    entry = DedupeEntry(content_hash="abc", status=AlertStatus.OPEN, last_seen=datetime(2026, 1, 2, tzinfo=UTC))
    history = DismissalHistory(entries={"policy-1": ("arn:aws:s3:::bucket-*",)})
    records = [
        (b"d:asset-1|P-1", serde.encode(ScoringState(dedupe=entry), topic=topic)),
        (b"h", serde.encode(ScoringState(history=history), topic=topic)),
        (b"d:asset-2|P-2", serde.encode(ScoringState(dedupe=entry), topic=topic)),
        (b"d:asset-2|P-2", None),
        (b"a:asset-3", None),
    ]
    store = scoring_store("core", topic, serde.deserializer(ScoringState, topic))
    state = store.restore(4, records)
    assert state.table(DEDUPE) == {"asset-1|P-1": entry}
    assert state.value(HISTORY, DismissalHistory()) == history
    assert state.table(ASSETS) == {} and state.groups(MEMBERS) == {}
    # and what it writes is read back the same way
    state.put(DEDUPE, "asset-9|P-9", entry)
    (write,) = store.take_writes()
    assert write.key == "d:asset-9|P-9" and write.value == ScoringState(dedupe=entry) and write.partition == 4
