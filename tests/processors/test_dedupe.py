"""Specification of dedupe (processors/dedupe.py): decisions, ordering, replay."""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.dedupe import Decision, DedupeEntry, decide
from processors.models import Alert, AlertStatus
from processors.normalise import normalise
from tests.processors import payloads as p

HOUR_MS = 3_600_000


def version(status: str = "open", severity: str = "high", t: int = 0, alert_id: str = "P-1") -> Alert:
    return normalise(p.raw("cspm_api", p.cspm_alert(alert_id=alert_id, status=status, severity=severity,
                                                    last_seen=p.T0_MS + t * HOUR_MS)))


def run(seq: list[Alert], entry: DedupeEntry | None = None) -> tuple[list[Decision], DedupeEntry | None]:
    out: list[Decision] = []
    for alert in seq:
        d, entry = decide(entry, alert)
        out.append(d)
    return out, entry


def test_lifecycle() -> None:
    a = version(t=0)
    decisions, entry = run([a, version(t=1), version(severity="critical", t=2), version("resolved", "critical", t=3),
                            version("open", "critical", t=4), version("dismissed", "critical", t=5)])
    assert decisions == [Decision.NEW, Decision.DROP, Decision.RECURRENCE, Decision.STATUS_CHANGE,
                         Decision.STATUS_CHANGE, Decision.STATUS_CHANGE]
    assert entry is not None and entry.status is AlertStatus.DISMISSED and entry.times_seen == 6


def test_repoll_advances_last_seen_without_emitting() -> None:
    _, entry = run([version(t=0), version(t=5)])
    assert entry is not None and entry.last_seen == version(t=5).last_seen and entry.times_seen == 2


def test_older_copy_never_reverts_status() -> None:
    decisions, entry = run([version(t=0), version("resolved", t=2), version("open", t=1)])
    assert decisions == [Decision.NEW, Decision.STATUS_CHANGE, Decision.DROP]
    assert entry is not None and entry.status is AlertStatus.RESOLVED


def test_same_timestamp_conflict_converges_whatever_the_order() -> None:
    x, y = version("open", t=1), version("resolved", t=1)
    _, e1 = run([x, y])
    _, e2 = run([y, x])
    assert e1 is not None and e2 is not None and e1.content_hash == e2.content_hash


def test_entry_is_a_small_serialisable_value() -> None:
    _, entry = decide(None, version())
    assert DedupeEntry.model_validate_json(entry.model_dump_json()) == entry


# --- properties ---------------------------------------------------------------------------------

_state = st.tuples(st.sampled_from(["open", "resolved", "dismissed", "snoozed"]), st.sampled_from(["high", "critical", "low"]))


@st.composite
def timelines(draw: st.DrawFn) -> tuple[list[Alert], list[Alert]]:
    """(the true versions in time order, the stream as received: versions plus re-polls of earlier ones)."""
    states = draw(st.lists(_state, min_size=1, max_size=6))
    versions = [version(s, sev, t=i) for i, (s, sev) in enumerate(states)]
    stream: list[Alert] = []
    for i, v in enumerate(versions):
        stream.append(v)
        for j in draw(st.lists(st.integers(0, i), max_size=3)):
            stream.append(versions[j])  # a duplicate or late re-poll of an already-sent version
    return versions, stream


@settings(max_examples=150, deadline=None)
@given(timelines())
def test_replaying_any_sequence_gives_identical_decisions_and_then_only_drops(tl: tuple[list[Alert], list[Alert]]) -> None:
    _, stream = tl
    first, entry = run(stream)
    second, entry2 = run(stream)
    assert first == second
    assert entry is not None and entry2 is not None and entry.content_hash == entry2.content_hash
    replay, after = run(stream, entry)  # the Kafka layer re-delivers after a crash
    assert set(replay) == {Decision.DROP}
    assert after is not None and after.status is entry.status and after.content_hash == entry.content_hash


@settings(max_examples=150, deadline=None)
@given(timelines())
def test_duplicates_never_add_news_and_each_change_is_emitted_once(tl: tuple[list[Alert], list[Alert]]) -> None:
    versions, stream = tl
    decisions, entry = run(stream)
    counts = Counter(decisions)
    assert counts[Decision.NEW] == 1
    status_changes = sum(1 for a, b in pairwise(versions) if a.content_hash != b.content_hash and a.status is not b.status)
    recurrences = sum(1 for a, b in pairwise(versions) if a.content_hash != b.content_hash and a.status is b.status)
    assert counts[Decision.STATUS_CHANGE] == status_changes
    assert counts[Decision.RECURRENCE] == recurrences
    assert entry is not None and entry.status is versions[-1].status and entry.content_hash == versions[-1].content_hash


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["P-1", "P-2", "P-3"]), min_size=1, max_size=15), st.randoms())
def test_shuffled_repolls_of_many_alerts_give_one_new_each(ids: list[str], rnd: random.Random) -> None:
    stream = [version(alert_id=i) for i in ids]
    rnd.shuffle(stream)
    entries: dict[str, DedupeEntry] = {}
    news: Counter[str] = Counter()
    for a in stream:
        d, entries[a.alert_id] = decide(entries.get(a.alert_id), a)
        news[a.alert_id] += d is Decision.NEW
    assert all(n == 1 for n in news.values()) and set(news) == set(ids)
