"""RFC 5424 messages checked against the ABNF, and RFC 6587 octet-counted framing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.syslog.rfc5424 import (
    BOM,
    FramingError,
    format_rfc5424,
    format_timestamp,
    frame_octet_counted,
    split_octet_counted,
)
from tests.connectors.syslog.support import parse_rfc5424, parse_sd

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _msg(msg: str | None = "hello", **overrides: object) -> bytes:
    fields: dict[str, object] = {
        "facility": 16, "severity": 6, "hostname": "web-01", "app_name": "prismaflow", "procid": "4242",
        "msgid": "ALERT", "timestamp": WHEN,
    }
    fields.update(overrides)
    return format_rfc5424(msg, **fields)  # type: ignore[arg-type]


def test_the_reference_example() -> None:
    data = _msg("CEF:0|Acme|X|1|R|n|8|src=10.0.0.1", structured_data={"origin@32473": {"ip": "10.0.0.1"}})
    assert data == (
        b'<134>1 2026-01-02T03:04:05.678Z web-01 prismaflow 4242 ALERT [origin@32473 ip="10.0.0.1"] '
        b"CEF:0|Acme|X|1|R|n|8|src=10.0.0.1"
    )
    parsed = parse_rfc5424(data)
    assert (parsed.facility, parsed.severity) == (16, 6)


def test_nilvalues_and_no_msg() -> None:
    data = _msg(None, hostname=None, app_name="", procid=None, msgid=None, timestamp=None)
    assert data == b"<134>1 - - - - - -"
    assert parse_rfc5424(data).msg is None


@pytest.mark.parametrize(("facility", "severity", "pri"), [(0, 0, 0), (23, 7, 191), (1, 3, 11)])
def test_pri(facility: int, severity: int, pri: int) -> None:
    assert parse_rfc5424(_msg(facility=facility, severity=severity)).pri == pri


@pytest.mark.parametrize(("field", "value"), [("facility", 24), ("facility", -1), ("severity", 8)])
def test_pri_out_of_range_is_an_error(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=field):
        _msg(**{field: value})


def test_timestamp_is_utc_with_milliseconds() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 1, 2, 4, 4, 5, 9000, tzinfo=cet)) == "2026-01-02T03:04:05.009Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 1, 2))


def test_header_fields_are_sanitised_and_capped() -> None:
    data = _msg(hostname="web 01\u00e9" + "h" * 300, app_name="a" * 60, procid="p" * 200, msgid="m" * 40)
    parsed = parse_rfc5424(data)
    assert parsed.hostname.startswith("web_01_") and len(parsed.hostname) == 255
    assert len(parsed.app_name) == 48 and len(parsed.procid) == 128 and len(parsed.msgid) == 32


def test_structured_data_escaping() -> None:
    sd = {"a@32473": {"k": 'a"b\\c]d', "empty": ""}, "b@32473": {}}
    data = _msg(structured_data=sd)
    assert b'[a@32473 k="a\\"b\\\\c\\]d" empty=""][b@32473]' in data
    assert parse_sd(parse_rfc5424(data).structured_data) == {
        "a@32473": {"k": 'a"b\\c]d', "empty": ""}, "b@32473": {},
    }


@pytest.mark.parametrize("bad", ["", "has space", "a=b", "x]", 'q"', "n" * 33, "caf\u00e9"])
def test_invalid_sd_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="SD-ID"):
        _msg(structured_data={bad: {}})
    with pytest.raises(ValueError, match="PARAM-NAME"):
        _msg(structured_data={"ok@1": {bad: "v"}})


def test_bom_is_optional_and_off_by_default() -> None:
    assert _msg("x").endswith(b"- x")
    with_bom = _msg("\u00e9t\u00e9", bom=True)
    assert with_bom.endswith(b" " + BOM + "\u00e9t\u00e9".encode())
    assert parse_rfc5424(with_bom).msg == BOM + "\u00e9t\u00e9".encode()


def test_max_octets_cuts_msg_on_a_character_boundary() -> None:
    data = _msg("\u20ac" * 100, max_octets=80)  # 3 bytes per character
    assert len(data) <= 80
    parsed = parse_rfc5424(data)
    assert parsed.msg is not None
    parsed.msg.decode("utf-8")  # no half character at the end
    with pytest.raises(ValueError, match="max_octets"):
        _msg("x", max_octets=10)


def test_multiline_msg_is_kept() -> None:
    assert parse_rfc5424(_msg("one\ntwo")).msg == b"one\ntwo"


_printable = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FFF, blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=200, deadline=None)
@given(
    msg=st.one_of(st.none(), _printable),
    hostname=st.one_of(st.none(), _printable),
    app=st.one_of(st.none(), _printable),
    procid=st.one_of(st.none(), _printable),
    msgid=st.one_of(st.none(), _printable),
    value=_printable,
    facility=st.integers(0, 23),
    severity=st.integers(0, 7),
    bom=st.booleans(),
)
def test_every_message_matches_the_abnf(
    msg: str | None, hostname: str | None, app: str | None, procid: str | None,
    msgid: str | None, value: str, facility: int, severity: int, bom: bool,
) -> None:
    data = format_rfc5424(
        msg, facility=facility, severity=severity, hostname=hostname, app_name=app,
        procid=procid, msgid=msgid, timestamp=WHEN, structured_data={"p@1": {"v": value}}, bom=bom,
    )
    parsed = parse_rfc5424(data)
    assert parsed.pri == facility * 8 + severity
    assert parse_sd(parsed.structured_data) == {"p@1": {"v": value}}
    if msg is not None:
        assert parsed.msg == (BOM if bom else b"") + msg.encode()


# --- framing -------------------------------------------------------------------------------------


def test_octet_counted_frame() -> None:
    message = _msg("caf\u00e9\nline")
    frame = frame_octet_counted(message)
    assert frame == str(len(message)).encode() + b" " + message
    assert frame.split(b" ", 1)[0] == str(len(message)).encode()  # octets, not characters


def test_split_frames_and_keep_the_partial_rest() -> None:
    one, two = _msg("one\n"), _msg("two two")
    stream = frame_octet_counted(one) + frame_octet_counted(two)
    assert split_octet_counted(stream) == ([one, two], b"")
    frames, rest = split_octet_counted(stream[:-3])
    assert frames == [one] and rest == frame_octet_counted(two)[:-3]
    assert split_octet_counted(b"12") == ([], b"12")


@pytest.mark.parametrize("bad", [b"012 <1>1 - - - - - -", b"<134>1 - - - - - -\n", b"12a <1>", b"12345678901"])
def test_non_octet_counted_input_is_rejected(bad: bytes) -> None:
    with pytest.raises(FramingError):
        split_octet_counted(bad)


def test_empty_frame_is_refused() -> None:
    with pytest.raises(ValueError):
        frame_octet_counted(b"")
