"""The hash-chained audit trail: appending, redaction, and detection of every kind of tampering."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from itertools import count, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from processors.audit import (
    REDACTED,
    AuditChain,
    ProblemKind,
    canonical_json,
    record_hash,
    redact,
    verify_chain,
)
from processors.records import ActorType, AuditRecord

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _clock() -> Callable[[], datetime]:
    ticks = count()
    return lambda: T0 + timedelta(seconds=next(ticks), microseconds=123)


def _ids() -> Callable[[], str]:
    ticks = count()
    return lambda: f"rec-{next(ticks)}"


def make_chain(n: int, stream: str = "prisma.audit/0") -> list[AuditRecord]:
    chain = AuditChain(stream, clock=_clock(), id_factory=_ids())
    records = []
    for i in range(n):
        records.append(
            chain.append(
                ActorType.MODEL if i % 2 else ActorType.SYSTEM,
                "gpt-4o-mini" if i % 2 else "scorer",
                "analysed" if i % 2 else "scored",
                alert_id=f"P-{i}",
                prompt_version="triage@3" if i % 2 else None,
                model="gpt-4o-mini" if i % 2 else None,
                input_hash=hashlib.sha256(str(i).encode()).hexdigest(),
                details={"tokens_in": 100 + i, "note": "ünïcode ✓"},
            )
        )
    return records


def kinds(records: list[AuditRecord], **kwargs: object) -> list[tuple[ProblemKind, int]]:
    report = verify_chain(records, **kwargs)  # type: ignore[arg-type]
    return [(p.kind, p.sequence) for p in report.problems]


# --- building ------------------------------------------------------------------------------------


def test_records_are_chained() -> None:
    records = make_chain(4)
    assert [r.sequence for r in records] == [0, 1, 2, 3]
    assert records[0].prev_hash == ""
    for before, after in pairwise(records):
        assert after.prev_hash == before.hash
    for record in records:
        assert record.hash == hashlib.sha256(canonical_json(record)).hexdigest()
        assert len(record.hash) == 64
    assert records[0].at == T0  # cut to milliseconds
    assert verify_chain(records).ok


def test_canonical_json_is_stable_and_covers_every_field_but_the_hash_and_its_signature() -> None:
    record = make_chain(1)[0]
    body = json.loads(canonical_json(record))
    assert set(body) == set(AuditRecord.model_fields) - {"hash", "key_id", "signature"}
    assert body["at"] == "2026-01-02T03:04:05.678Z"
    assert body["actor_type"] == "system" and body["prompt_version"] is None
    assert canonical_json(record) == canonical_json(AuditRecord.model_validate_json(record.model_dump_json()))
    raw = canonical_json(record).decode()
    assert ", " not in raw and ": " not in raw and "ünïcode" in json.loads(body["details_json"])["note"]


def test_hash_survives_a_serialisation_round_trip_in_another_zone() -> None:
    record = make_chain(1)[0]
    moved = record.model_copy(update={"at": record.at.astimezone(timezone(timedelta(hours=5)))})
    assert record_hash(moved) == record.hash


def test_resume_continues_the_chain() -> None:
    first = make_chain(3)
    chain = AuditChain.resume(first[-1], clock=_clock(), id_factory=lambda: "later")
    nxt = chain.append(ActorType.PERSON, "alice@example.com", "fix_approved", alert_id="P-1")
    assert (nxt.sequence, nxt.prev_hash) == (3, first[-1].hash)
    assert verify_chain([*first, nxt]).ok
    assert AuditChain.resume(None, clock=_clock()).next_sequence == 0


def test_inconsistent_head_is_refused() -> None:
    with pytest.raises(ValueError):
        AuditChain(next_sequence=3, head_hash="", clock=_clock())
    with pytest.raises(ValueError):
        AuditChain(next_sequence=0, head_hash="ab", clock=_clock())


def test_naive_time_is_refused_and_the_chain_does_not_advance() -> None:
    chain = AuditChain(clock=_clock())
    with pytest.raises(ValueError):
        chain.append(ActorType.SYSTEM, "x", "y", at=datetime(2026, 1, 1))
    assert chain.next_sequence == 0


# --- redaction -----------------------------------------------------------------------------------


def test_details_never_keep_secrets() -> None:
    chain = AuditChain(clock=_clock(), id_factory=_ids())
    record = chain.append(
        ActorType.SYSTEM, "jira-sink", "ticket_created",
        details={
            "password": "hunter2",
            "apiKey": "k-123",
            "X-Api-Key": "k-456",
            "client_secret": "cs",
            "refresh_token": "rt",
            "Authorization": "Bearer abcdefghijkl",
            "webhook_url": "https://example.invalid/hook",
            "nested": {"access_key": "AKIA", "list": [{"token": "t"}], "private-key": "pk"},
            "settings": SecretStr("s3cr3t"),
            "tokens_in": 1834,  # a count, not a token: kept
            "token_budget": 5000,
            "text": "see https://hooks.slack.com/services/T1/B1/XYZ and https://l.azure.com/x?a=1&sig=SIGVALUE",
            "header": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
            "empty_password": "",
            "ticket": "SEC-1",
        },
    )
    details = json.loads(record.details_json)
    for key in ("password", "apiKey", "X-Api-Key", "client_secret", "refresh_token", "Authorization", "webhook_url", "settings"):
        assert details[key] == REDACTED, key
    assert details["nested"] == {"access_key": REDACTED, "list": [{"token": REDACTED}], "private-key": REDACTED}
    assert details["tokens_in"] == 1834 and details["ticket"] == "SEC-1"
    assert details["token_budget"] == REDACTED  # "token" as a word: better safe
    assert "XYZ" not in details["text"] and "SIGVALUE" not in details["text"] and "a=1" in details["text"]
    assert "eyJhbGci" not in details["header"]
    assert details["empty_password"] == ""
    for secret in ("hunter2", "k-123", "AKIA", "s3cr3t", "abcdefghijkl"):
        assert secret not in record.details_json


def test_redact_handles_models_dates_and_bytes() -> None:
    record = make_chain(1)[0]
    out = redact({"record": record, "when": T0, "blob": b"\x00\x01", "kind": ActorType.PERSON})
    assert out["record"]["hash"] == record.hash
    assert out["when"] == T0.isoformat() and out["blob"] == "<2 bytes>" and out["kind"] == "person"


# --- verification --------------------------------------------------------------------------------


def test_tampered_content_is_found() -> None:
    records = make_chain(5)
    records[2] = records[2].model_copy(update={"outcome": "failed"})
    assert kinds(records) == [(ProblemKind.TAMPERED, 2)]


def test_tampered_and_rehashed_record_breaks_the_next_link() -> None:
    records = make_chain(5)
    forged = records[2].model_copy(update={"actor": "mallory"})
    records[2] = forged.model_copy(update={"hash": record_hash(forged)})
    report = verify_chain(records)
    assert [(p.kind, p.sequence) for p in report.problems] == [(ProblemKind.BROKEN_LINK, 3)]
    assert "sequence=3" in str(report.problems[0])


def test_missing_record_is_a_gap() -> None:
    records = make_chain(6)
    del records[2:4]
    report = verify_chain(records)
    assert [(p.kind, p.sequence, p.last_sequence) for p in report.problems] == [(ProblemKind.MISSING, 2, 3)]
    assert "2..3" in str(report.problems[0])


def test_missing_genesis_and_retention() -> None:
    records = make_chain(5)[2:]
    assert kinds(records) == [(ProblemKind.MISSING, 0)]
    assert verify_chain(records, expect_genesis=False).ok
    full = make_chain(5)
    assert verify_chain(full[2:], anchor=full[1]).ok
    assert kinds(full[3:], anchor=full[1]) == [(ProblemKind.MISSING, 2)]


def test_forged_genesis() -> None:
    records = make_chain(2)
    forged = records[0].model_copy(update={"prev_hash": "ab" * 32})
    records[0] = forged.model_copy(update={"hash": record_hash(forged)})
    assert kinds(records) == [(ProblemKind.BAD_GENESIS, 0), (ProblemKind.BROKEN_LINK, 1)]


def test_reordering_is_found_and_links_still_checked() -> None:
    records = make_chain(5)
    records[1], records[3] = records[3], records[1]
    assert kinds(records) == [(ProblemKind.OUT_OF_ORDER, 1), (ProblemKind.OUT_OF_ORDER, 2)]


def test_reordered_and_tampered_link_is_found_when_the_predecessor_arrives() -> None:
    records = make_chain(4)
    forged = records[2].model_copy(update={"prev_hash": "00" * 32})
    forged = forged.model_copy(update={"hash": record_hash(forged)})
    assert kinds([records[0], forged, records[1], records[3]]) == [
        (ProblemKind.OUT_OF_ORDER, 1), (ProblemKind.BROKEN_LINK, 2), (ProblemKind.BROKEN_LINK, 3)
    ]


def test_fork_two_writers_on_one_chain() -> None:
    base = make_chain(3)
    writer_a = AuditChain.resume(base[-1], clock=_clock(), id_factory=lambda: "a")
    writer_b = AuditChain.resume(base[-1], clock=_clock(), id_factory=lambda: "b")
    a3 = writer_a.append(ActorType.SYSTEM, "sink-a", "ticket_created")
    b3 = writer_b.append(ActorType.SYSTEM, "sink-b", "ticket_created")
    a4 = writer_a.append(ActorType.SYSTEM, "sink-a", "ticket_updated")
    report = verify_chain([*base, a3, b3, a4])
    assert [(p.kind, p.sequence, p.record_id) for p in report.problems] == [(ProblemKind.FORK, 3, "b")]


def test_redelivered_duplicates_are_not_problems() -> None:
    records = make_chain(4)
    report = verify_chain([records[0], records[1], records[1], records[2], records[3], records[3]])
    assert report.ok and report.duplicates == 2 and report.checked == 6


def test_report_summary_fields() -> None:
    records = make_chain(3)
    report = verify_chain(iter(records))  # any iterable, read once
    assert (report.checked, report.first_sequence, report.last_sequence, report.head_hash) == (
        3, 0, 2, records[-1].hash
    )
    empty = verify_chain([])
    assert empty.ok and empty.last_sequence is None and empty.head_hash is None


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(3, 15))
def test_any_single_removal_or_change_is_found(data: st.DataObject, n: int) -> None:
    records = make_chain(n)
    index = data.draw(st.integers(0, n - 2))  # the tail alone cannot be checked without a pin
    action = data.draw(st.sampled_from(["drop", "edit", "edit_rehash", "swap"]))
    if action == "drop":
        del records[index]
    elif action == "edit":
        records[index] = records[index].model_copy(update={"action": "edited"})
    elif action == "edit_rehash":
        forged = records[index].model_copy(update={"action": "edited"})
        records[index] = forged.model_copy(update={"hash": record_hash(forged)})
    else:
        records[index], records[index + 1] = records[index + 1], records[index]
    assert not verify_chain(records).ok
