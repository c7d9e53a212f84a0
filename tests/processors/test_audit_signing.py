"""The signed audit ledger: forging without the key, key rotation, gaps, and the key texts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from processors.audit import (
    AuditChain,
    AuditKeyring,
    AuditSigner,
    ProblemKind,
    SignatureCheck,
    record_hash,
    verify_chain,
)
from processors.records import ActorType, AuditRecord

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
OLD, NEW = AuditSigner.generate("ledger_2025"), AuditSigner.generate("ledger_2026")


def _clock() -> Callable[[], datetime]:
    ticks = count()
    return lambda: T0 + timedelta(seconds=next(ticks))


def _append(chain: AuditChain, n: int, start: int = 0) -> list[AuditRecord]:
    return [chain.append(ActorType.SYSTEM, "tickets.jira/0", "ticket_created", alert_id=f"P-{start + i}",
                         details={"ticket": f"SEC-{start + i}"}) for i in range(n)]


def signed_chain(n: int, signer: AuditSigner = NEW) -> list[AuditRecord]:
    return _append(AuditChain("tickets.jira/0", clock=_clock(), signer=signer), n)


def rehashed_from(records: list[AuditRecord], index: int, **changes: object) -> list[AuditRecord]:
    """What an attacker who can write the topic but holds no key does: change record ``index`` and
    rebuild the unkeyed SHA-256 chain from there, keeping the old key ids and signatures."""
    forged = list(records[:index])
    prev = records[index - 1].hash if index else ""
    for i, record in enumerate(records[index:]):
        draft = record.model_copy(update={**(changes if i == 0 else {}), "prev_hash": prev})
        draft = draft.model_copy(update={"hash": record_hash(draft)})
        forged.append(draft)
        prev = draft.hash
    return forged


def test_a_signed_chain_verifies_with_the_writers_public_key_alone() -> None:
    records = signed_chain(5)
    keyring = AuditKeyring.from_texts({"ledger_2026": NEW.public_key_text()})
    assert all(r.key_id == "ledger_2026" and r.signature for r in records)
    assert verify_chain(records, keyring=keyring).ok


def test_forging_one_record_and_rebuilding_the_sha256_chain_fails_and_names_that_record() -> None:
    records = signed_chain(6)
    forged = rehashed_from(records, 3, details_json='{"ticket":"SEC-attacker"}')
    assert verify_chain(forged).ok  # the unkeyed chain alone is fooled: that is the defect signing fixes
    report = verify_chain(forged, keyring=AuditKeyring.from_texts({}, signer=NEW), offsets=[10, 11, 12, 13, 14, 15])
    assert not report.ok
    first = report.first_problem
    assert first is not None
    assert (first.kind, first.sequence, first.record_id, first.offset, first.key_id) == (
        ProblemKind.BAD_SIGNATURE, 3, records[3].record_id, 13, "ledger_2026")
    assert "offset=13" in str(first) and "key_id=ledger_2026" in str(first)
    assert {p.sequence for p in report.problems} == {3, 4, 5}  # everything re-hashed after it too


def test_records_signed_by_the_attackers_own_key_fail_as_unknown_or_bad() -> None:
    records = signed_chain(3)
    intruder = AuditSigner.generate("ledger_2026")  # claims the real key's id
    forged = rehashed_from(records, 1, outcome="rejected")
    forged[1] = forged[1].model_copy(update={"signature": intruder.sign(forged[1].hash)})
    keyring = AuditKeyring.from_texts({}, signer=NEW)
    assert verify_chain(forged, keyring=keyring).problems[0].kind is ProblemKind.BAD_SIGNATURE
    own_id = AuditSigner.generate("intruder")
    forged[1] = forged[1].model_copy(update={"key_id": "intruder", "signature": own_id.sign(forged[1].hash)})
    assert verify_chain(forged, keyring=keyring).problems[0].kind is ProblemKind.UNKNOWN_KEY


def test_an_unsigned_record_fails_verification() -> None:
    records = signed_chain(3)
    stripped = [*records[:2], records[2].model_copy(update={"key_id": None, "signature": None})]
    (problem,) = verify_chain(stripped, keyring=AuditKeyring.from_texts({}, signer=NEW)).problems
    assert (problem.kind, problem.sequence) == (ProblemKind.UNSIGNED, 2)


def test_rotation_old_records_under_the_retired_key_new_under_the_new_one_verify() -> None:
    before = _append(AuditChain("tickets.jira/0", clock=_clock(), signer=OLD), 3)
    after = _append(AuditChain.resume(before[-1], "tickets.jira/0", clock=_clock(), signer=NEW), 3, start=3)
    records = [*before, *after]
    assert [r.key_id for r in records] == ["ledger_2025"] * 3 + ["ledger_2026"] * 3
    both = AuditKeyring.from_texts({"ledger_2025": OLD.public_key_text()}, signer=NEW)
    assert both.key_ids == ["ledger_2025", "ledger_2026"]
    assert verify_chain(records, keyring=both).ok
    only_new = verify_chain(records, keyring=AuditKeyring.from_texts({}, signer=NEW))
    assert [(p.kind, p.sequence) for p in only_new.problems] == [(ProblemKind.UNKNOWN_KEY, s) for s in range(3)]


def test_a_deleted_record_is_found_as_a_gap() -> None:
    records = signed_chain(5)
    kept = [r for r in records if r.sequence != 2]
    report = verify_chain(kept, keyring=AuditKeyring.from_texts({}, signer=NEW), offsets=[0, 1, 3, 4])
    (gap,) = report.problems
    assert (gap.kind, gap.sequence, gap.last_sequence) == (ProblemKind.MISSING, 2, 2)
    assert gap.offset == 3  # named by the first record stored after the hole


def test_signing_leaves_the_hash_scheme_unchanged() -> None:
    signed = signed_chain(2)
    unsigned = _append(AuditChain("tickets.jira/0", clock=_clock(), id_factory=iter(
        [r.record_id for r in signed]).__next__), 2)
    assert [r.hash for r in unsigned] == [r.hash for r in signed]


def test_a_signing_key_round_trips_through_its_text_and_never_shows_in_its_repr() -> None:
    secret = NEW.secret_text()
    again = AuditSigner.from_secret(secret + "\n")
    assert again.key_id == "ledger_2026" and again.public_key_text() == NEW.public_key_text()
    assert secret.split(":")[1] not in repr(NEW)
    keyring = AuditKeyring.from_texts({"ledger_2026": NEW.public_key_text()})
    assert keyring.check("ledger_2026", "ab" * 32, again.sign("ab" * 32)) is SignatureCheck.VALID
    assert keyring.check("ledger_2026", "ab" * 32, "not base64!") is SignatureCheck.BAD_SIGNATURE


@pytest.mark.parametrize("text", ["no-separator", "UPPER:" + "A" * 44, "id:not-base64!", "id:" + "QUJD"])
def test_malformed_signing_keys_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        AuditSigner.from_secret(text)
    assert text.partition(":")[2] not in str(caught.value) or not text.partition(":")[2]


def test_a_verify_key_that_contradicts_the_signing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        AuditKeyring.from_texts({"ledger_2026": OLD.public_key_text()}, signer=NEW)
