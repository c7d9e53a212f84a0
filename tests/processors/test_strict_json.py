"""Parsing untrusted JSON within limits: every hostile body is a JsonRejectedError, never another crash."""

from __future__ import annotations

import pytest

from processors.strict_json import JsonLimits, JsonRejectedError, parse_json

LIMITS = JsonLimits(max_depth=16, max_string_chars=1000, max_number_chars=30, max_array_items=50,
                    max_object_members=20)


def test_ordinary_json_parses() -> None:
    parsed = parse_json(b'[{"alertId": "P-1", "n": 12, "f": 1.5e3, "t": true, "z": null}]', LIMITS)
    assert parsed.document == [{"alertId": "P-1", "n": 12, "f": 1500.0, "t": True, "z": None}]
    assert parsed.replaced_bytes == 0


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 1000 + b"]" * 1000, "nesting deeper than 16"),
    (b'{"a":' * 17 + b"1" + b"}" * 17, "nesting deeper than 16"),
    (b"[" + b"1" * 5000 + b"]", "a number of 5000 characters"),
    (b"[1." + b"5" * 40 + b"]", "a number of 42 characters"),
    (b"[NaN]", "NaN is not a JSON number"),
    (b'{"x": Infinity}', "Infinity is not a JSON number"),
    (b"[-Infinity]", "-Infinity is not a JSON number"),
    (b"[1e999]", "out of range"),
    (b'["' + b"x" * 1001 + b'"]', "longer than 1000 characters"),
    (b"[" + b"0," * 60 + b"0]", "an array of 61 items"),
    (b"{" + b",".join(b'"k%d":1' % i for i in range(21)) + b"}", "an object of 21 members"),
    (b"{not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'["unterminated', "not valid JSON"),
    (b"\xef\xbb\xbf[]", "not valid JSON"),
])
def test_hostile_bodies_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(JsonRejectedError) as caught:
        parse_json(body, LIMITS)
    assert reason in caught.value.reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = b'["' + b"[" * 500 + b'", "\\"[[[["]'
    assert parse_json(body, LIMITS).document == ["[" * 500, '"[[[[']


def test_undecodable_bytes_become_replacement_characters_and_are_counted() -> None:
    parsed = parse_json(b'["a\xed\xa0\x80b", "\xef\xbf\xbd kept", "\xff"]', LIMITS)
    assert parsed.document == ["a\ufffd\ufffd\ufffdb", "\ufffd kept", "\ufffd"]
    assert parsed.replaced_bytes == 4


def test_an_escaped_lone_surrogate_is_parsed_and_left_to_the_sanitiser() -> None:
    assert parse_json(b'["\\ud800"]', LIMITS).document == ["\ud800"]
