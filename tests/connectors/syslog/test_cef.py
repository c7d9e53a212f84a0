"""CEF lines for SiemEvents: escaping, severity mapping, keys, caps; checked by an independent parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.syslog.cef import (
    cef_severity,
    escape_extension_value,
    escape_header,
    siem_event_to_cef,
    syslog_severity,
)
from processors.models import RiskTier
from tests.connectors.syslog.support import cef_labelled, parse_cef
from tests.factories import make_siem_event


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a|b", "a\\|b"),
        ("C:\\tmp", "C:\\\\tmp"),
        ("\\|", "\\\\\\|"),
        ("a=b", "a=b"),  # '=' needs no escape in the header
        ("line1\nline2", "line1 line2"),  # no line breaks in the header at all
    ],
)
def test_header_escaping(raw: str, escaped: str) -> None:
    assert escape_header(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text", "plain text"),
        ("a=b", "a\\=b"),
        ("C:\\tmp\\a.txt", "C:\\\\tmp\\\\a.txt"),
        ("one\ntwo", "one\\ntwo"),
        ("one\r\ntwo", "one\\ntwo"),
        ("one\rtwo", "one\\rtwo"),
        ("a|b", "a|b"),  # a pipe needs no escape in the extension
        ("  padded  ", "padded"),
        ("tab\there", "tab here"),
        ("\\=", "\\\\\\="),
    ],
)
def test_extension_escaping(raw: str, escaped: str) -> None:
    assert escape_extension_value(raw) == escaped


def test_the_reference_example_event_round_trips() -> None:
    event = make_siem_event(
        policy_name="Suspicious login burst | 5 hosts",
        summary="path C:\\tmp\\a.txt contains a=b\nline2",
    )
    cef = parse_cef(siem_event_to_cef(event, version="1.4.2", console_url="https://app.prismacloud.io/alerts/P-1?x=1&y=2"))
    assert cef.version == "0"
    assert (cef.vendor, cef.product, cef.device_version) == ("Prismaflow", "Prismaflow", "1.4.2")
    assert cef.name == "Suspicious login burst | 5 hosts"
    assert cef.signature == "prisma:CSPM:Suspicious login burst | 5 hosts"
    assert cef.severity == "9"
    ext = cef.extension
    assert ext["msg"] == "path C:\\tmp\\a.txt contains a=b\nline2"
    assert ext["request"] == "https://app.prismacloud.io/alerts/P-1?x=1&y=2"
    assert ext["rt"] == str(int(event.event_time.timestamp() * 1000))
    assert ext["externalId"] == event.event_id
    assert ext["act"] == "open"
    assert ext["cat"] == "CSPM/aws"
    assert cef_labelled(cef) == {
        "alertId": event.alert_id,
        "assetId": event.asset_id,
        "cloudAccount": "123456789012",
        "cloudRegion": "eu-west-1",
        "ticket": "SEC-1042",
        "resourceId": event.resource_id,
        "riskScore": "87",
        "riskTier": "critical",
        "prismaSeverity": "high",
    }
    assert "outcome" not in ext and "deviceExternalId" not in ext


def test_empty_fields_are_left_out_with_their_labels() -> None:
    event = make_siem_event(account_id="", region="", ticket_key=None, summary="")
    line = siem_event_to_cef(event, device_external_id="tenant-eu")
    ext = parse_cef(line).extension
    for key in ("cs3", "cs3Label", "cs4", "cs4Label", "cs6", "cs6Label", "msg", "request"):
        assert key not in ext
    assert ext["deviceExternalId"] == "tenant-eu"
    assert "= " not in line and not line.endswith("=")


@pytest.mark.parametrize(
    ("tier", "score", "expected"),
    [
        (RiskTier.CRITICAL, 100, 10),
        (RiskTier.CRITICAL, 87, 9),
        (RiskTier.CRITICAL, 40, 9),  # the tier wins over a low score
        (RiskTier.HIGH, 75, 8),
        (RiskTier.HIGH, 99, 8),
        (RiskTier.HIGH, 10, 7),
        (RiskTier.MEDIUM, 50, 5),
        (RiskTier.MEDIUM, 0, 4),
        (RiskTier.LOW, 20, 2),
        (RiskTier.LOW, 90, 3),
        (RiskTier.LOW, 0, 0),
    ],
)
def test_severity_is_the_tier_band_placed_by_score(tier: RiskTier, score: int, expected: int) -> None:
    assert cef_severity(tier, score) == expected


def test_syslog_severity_follows_the_tier() -> None:
    assert syslog_severity(make_siem_event(tier=RiskTier.CRITICAL)) == 2
    assert syslog_severity(make_siem_event(tier=RiskTier.LOW, score=10)) == 5


def test_header_fields_are_capped() -> None:
    event = make_siem_event(policy_name="P" * 5000)
    cef = parse_cef(siem_event_to_cef(event, vendor="V" * 100, product="Q" * 100, version="9" * 100))
    assert len(cef.vendor) == 63 and len(cef.product) == 63 and len(cef.device_version) == 31
    assert len(cef.name) == 512 and cef.name.endswith("…")
    assert len(cef.signature) == 1023


def test_a_long_line_drops_trailing_pairs_and_stays_valid() -> None:
    event = make_siem_event(summary="s=" * 2000, resource_id="r\\" * 2000)
    line = siem_event_to_cef(event, console_url="https://x.example/" + "u" * 3000, max_length=2000)
    assert len(line) <= 2000
    cef = parse_cef(line)
    assert cef.extension["cs1"] == event.alert_id  # the important keys survive
    assert "msg" not in cef.extension  # the least important went first
    labels = [k for k in cef.extension if k.endswith("Label")]
    assert all(label[: -len("Label")] in cef.extension for label in labels)


def test_escapes_are_never_cut_in_half() -> None:
    # Caps count characters before escaping: a capped value full of backslashes stays parseable.
    event = make_siem_event(summary="\\" * 3000)
    cef = parse_cef(siem_event_to_cef(event, max_length=100_000))
    assert cef.extension["msg"] == "\\" * 1022 + "…"


def test_max_length_below_header_is_an_error() -> None:
    with pytest.raises(ValueError, match="max_length"):
        siem_event_to_cef(make_siem_event(), max_length=10)


_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80
)


@settings(max_examples=200, deadline=None)
@given(policy=_texts, summary=_texts, account=_texts, region=_texts, ticket=_texts)
def test_any_text_round_trips_through_the_parser(
    policy: str, summary: str, account: str, region: str, ticket: str
) -> None:
    event = make_siem_event(
        policy_name=policy, summary=summary, account_id=account, region=region, ticket_key=ticket,
        event_time=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )
    cef = parse_cef(siem_event_to_cef(event))
    assert cef.signature == _plain(f"prisma:CSPM:{policy}", keep_breaks=False)
    labelled = cef_labelled(cef)

    def expected(value: str) -> str | None:
        return _plain(value.strip(), keep_breaks=True) or None

    assert labelled.get("cloudAccount") == expected(account)
    assert labelled.get("cloudRegion") == expected(region)
    assert labelled.get("ticket") == expected(ticket)
    assert cef.extension.get("msg") == expected(summary)


def _plain(value: str, *, keep_breaks: bool) -> str:
    """What a parser should read back: CRLF as one break, other control characters as spaces."""
    value = value.replace("\r\n", "\n" if keep_breaks else " ")
    return "".join(
        c if (keep_breaks and c in "\r\n") or not (ord(c) < 32 or ord(c) == 127) else " "
        for c in value
    )
