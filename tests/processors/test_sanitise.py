"""The edge's text rule: ids and keys refused with a reason, free text repaired and counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.errors import InvalidRecordError
from processors.models import AlertSource, RawAlert
from processors.sanitise import (
    MAX_IDENTIFIER_CHARS,
    MAX_PAYLOAD_DEPTH,
    admit_raw_alert,
    check_identifier,
    clean_payload,
    clean_text,
    identifier_problem,
)

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _admit(alert_id: object = "P-1", payload: Any = None, key: str | None = None) -> Any:
    return admit_raw_alert(
        source=AlertSource.CSPM_WEBHOOK, alert_id=alert_id,
        payload={"alertId": "P-1", "policyName": "ok"} if payload is None else payload,
        tenant="default", received_at=NOW, ingest_id="i-1",
        key=(lambda raw: key) if key is not None else (lambda raw: raw.source_alert_id))


@pytest.mark.parametrize("good", ["P-2741093", "cwpp:image-vulns:sha256:" + "a" * 64, "host name with spaces",
                                  "ünïcödé-名前", "x" * MAX_IDENTIFIER_CHARS])
def test_ordinary_ids_are_accepted(good: str) -> None:
    assert identifier_problem(good) is None
    assert check_identifier(good) == good


@pytest.mark.parametrize(("bad", "reason"), [
    ("", "empty"),
    ("x" * (MAX_IDENTIFIER_CHARS + 1), "characters long"),
    ("x" * 100_000, "100000 characters long"),
    ("P-1\x00", "U+0000"),
    ("P-\u202e1", "U+202E"),
    ("P-\u200b1", "U+200B"),
    ("\ufeffP-1", "U+FEFF"),
    ("P-1\u2028", "U+2028"),
    ("P-1\r\nX-Injected: 1", "U+000D"),
    ("P-\ud800", "U+D800"),
    ("P-\udcff", "U+DCFF"),
    ("P-\ufffd", "U+FFFD"),
    ("P-\u00a01", "U+00A0"),
    (" P-1", "white space"),
    (17, "must be a string"),
])
def test_odd_ids_are_refused_with_a_reason_naming_the_code_point(bad: object, reason: str) -> None:
    problem = identifier_problem(bad, "alert id")
    assert problem is not None and reason in problem and problem.startswith("alert id")
    problem.encode("utf-8")  # the reason itself is always encodable
    with pytest.raises(InvalidRecordError, match="alert id"):
        check_identifier(bad, "alert id")


def test_lone_surrogates_in_free_text_become_replacement_characters_and_are_counted() -> None:
    assert clean_text("plain") == ("plain", 0)
    assert clean_text("a\udcffb\ud800") == ("a\ufffdb\ufffd", 2)
    assert clean_text("astral \U0001f600 stays") == ("astral \U0001f600 stays", 0)


def test_a_payload_is_cleaned_everywhere_member_names_included() -> None:
    document = {"policyName": "S3 \udcff", "nested": [{"k\ud800": ["\udfff", 1, 2.5, None, True]}]}
    cleaned, replaced = clean_payload(document)
    assert replaced == 3
    assert cleaned == {"policyName": "S3 \ufffd", "nested": [{"k\ufffd": ["\ufffd", 1, 2.5, None, True]}]}
    json.dumps(cleaned, ensure_ascii=False).encode("utf-8")  # no longer fails


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(number: float) -> None:
    with pytest.raises(InvalidRecordError, match="not a JSON number"):
        clean_payload({"a": [1, number]})


def test_payloads_nested_too_deep_are_refused() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_PAYLOAD_DEPTH + 1):
        deep = [deep]
    with pytest.raises(InvalidRecordError, match="deeper than"):
        clean_payload(deep)
    shallow: Any = "leaf"
    for _ in range(MAX_PAYLOAD_DEPTH - 1):
        shallow = [shallow]
    assert clean_payload(shallow) == (shallow, 0)


def test_admitted_alerts_carry_the_cleaned_payload_its_hash_and_the_replacement_count() -> None:
    admitted = _admit(payload={"alertId": "P-1", "policyName": "bad \udcff name"})
    assert isinstance(admitted.raw, RawAlert)
    assert admitted.replaced_characters == 1
    assert json.loads(admitted.raw.payload_json)["policyName"] == "bad \ufffd name"
    admitted.raw.payload_json.encode("utf-8")
    assert admitted.key == "P-1"


@pytest.mark.parametrize(("alert_id", "key", "what"), [("P-\u202e1", None, "alert id"), ("P-1", "asset\n1", "key")])
def test_admission_refuses_a_bad_id_or_a_bad_derived_key(alert_id: str, key: str | None, what: str) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        _admit(alert_id=alert_id, key=key)
    assert caught.value.reason.startswith(what)


def test_admission_refuses_non_finite_numbers_in_the_payload() -> None:
    with pytest.raises(InvalidRecordError, match="nan"):
        _admit(payload={"alertId": "P-1", "riskScore": float("nan")})


def test_a_dead_letter_quoting_a_lone_surrogate_still_encodes() -> None:
    from processors.dead_letters import build_dead_letter
    from streams.serde import AvroSerde

    letter = build_dead_letter(stage="core", error="cannot encode 'bad \udcff'", original_topic="t\ud800",
                               failed_at=NOW, original_headers={"h\udcff": b"v"})
    assert "\\udcff" in letter.record.error_message and letter.record.original_topic == "t\\ud800"
    AvroSerde().encode(letter.record, topic="dlq")
    assert all(isinstance(value, bytes) for value in letter.headers.values())
