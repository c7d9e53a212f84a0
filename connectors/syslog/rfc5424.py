"""RFC 5424 syslog messages and RFC 6587 octet-counted framing: pure functions, no I/O.

:func:`format_rfc5424` builds one message (``SYSLOG-MSG``)::

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG]

* ``PRI`` = facility * 8 + severity (facility 0-23, severity 0-7).
* ``TIMESTAMP`` is UTC with milliseconds and ``Z`` (``2026-01-02T03:04:05.678Z``); ``None`` gives
  the NILVALUE ``-``.
* ``HOSTNAME``/``APP-NAME``/``PROCID``/``MSGID`` must be printable US-ASCII (33-126) of at most
  255/48/128/32 characters. ``None`` or empty gives ``-``; characters outside the set become
  ``_`` and over-long values are cut, because a sink must not fail an event over its header.
* ``STRUCTURED-DATA`` from a mapping ``{sd_id: {param: value}}``; ``"``, ``\\`` and ``]`` in
  values are escaped; SD-IDs and parameter names are checked (``ValueError`` if invalid, since they
  are fixed by our code, never by data).
* ``MSG`` is UTF-8. **No BOM by default** (``bom=False``): the RFC allows MSG-ANY, and a BOM in
  front of ``CEF:0|`` makes CEF parsers that anchor on ``CEF:`` (and rsyslog, which keeps the BOM
  in ``msg``) miss the event. Pass ``bom=True`` for receivers that want MSG-UTF8.

:func:`frame_octet_counted` wraps one message for TCP or TLS: ``MSG-LEN SP SYSLOG-MSG`` (RFC 6587
§3.4.1, mandatory over TLS per RFC 5425 §4.3). Counted frames may contain line breaks.
:func:`split_octet_counted` is the receiving side, for tests and the local receiver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = [
    "BOM",
    "NILVALUE",
    "FramingError",
    "StructuredData",
    "format_rfc5424",
    "format_structured_data",
    "format_timestamp",
    "frame_octet_counted",
    "split_octet_counted",
]

NILVALUE = "-"
BOM = b"\xef\xbb\xbf"

#: ``{sd_id: {param_name: value}}``; insertion order is kept on the wire.
StructuredData = Mapping[str, Mapping[str, str]]

_HOSTNAME_MAX = 255
_APP_NAME_MAX = 48
_PROCID_MAX = 128
_MSGID_MAX = 32
_SD_NAME = re.compile(r'^[\x21-\x7e]{1,32}$')
_SD_NAME_FORBIDDEN = frozenset('= ]"')
_MAX_LEN_DIGITS = 10  # a receiver would never accept a frame of 10 GB; stop reading digits there


class FramingError(ValueError):
    """Bytes that are not a valid octet-counted frame (non-digit length, leading zero, ...)."""


def format_timestamp(when: datetime) -> str:
    """RFC 5424 TIMESTAMP for an aware datetime: UTC, milliseconds, ``Z``."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("syslog timestamps must be timezone-aware")
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _header_field(value: str | int | None, limit: int) -> str:
    if value is None:
        return NILVALUE
    text = "".join(c if 33 <= ord(c) <= 126 else "_" for c in str(value))
    return text[:limit] if text else NILVALUE


def _sd_name(name: str, what: str) -> str:
    if not _SD_NAME.match(name) or any(c in _SD_NAME_FORBIDDEN for c in name):
        raise ValueError(f"invalid {what} {name!r}: 1-32 printable ASCII, no '=', ' ', ']', '\"'")
    return name


def _sd_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_structured_data(data: StructuredData | None) -> str:
    """``STRUCTURED-DATA``: NILVALUE for none/empty, else the SD-ELEMENTs with no space between."""
    if not data:
        return NILVALUE
    elements = []
    for sd_id, params in data.items():
        parts = [_sd_name(sd_id, "SD-ID")]
        for name, value in params.items():
            parts.append(f'{_sd_name(name, "PARAM-NAME")}="{_sd_value(value)}"')
        elements.append("[" + " ".join(parts) + "]")
    return "".join(elements)


def format_rfc5424(
    msg: str | None,
    *,
    facility: int,
    severity: int,
    hostname: str | None,
    app_name: str | None,
    procid: str | int | None,
    msgid: str | None,
    timestamp: datetime | None,
    structured_data: StructuredData | None = None,
    bom: bool = False,
    max_octets: int | None = None,
) -> bytes:
    """One RFC 5424 ``SYSLOG-MSG`` as bytes (not framed; see :func:`frame_octet_counted`).

    ``max_octets`` caps the whole message: MSG is cut at a UTF-8 character boundary so the
    message fits (receivers must take 2048 octets and should take 8192, RFC 5425 §4.3.1).
    Raises ``ValueError`` for a facility or severity out of range, a naive timestamp, an invalid
    SD name, or a ``max_octets`` smaller than the header.
    """
    if not 0 <= facility <= 23:
        raise ValueError(f"facility must be 0-23, got {facility}")
    if not 0 <= severity <= 7:
        raise ValueError(f"severity must be 0-7, got {severity}")
    header = " ".join(
        (
            f"<{facility * 8 + severity}>1",
            NILVALUE if timestamp is None else format_timestamp(timestamp),
            _header_field(hostname, _HOSTNAME_MAX),
            _header_field(app_name, _APP_NAME_MAX),
            _header_field(procid, _PROCID_MAX),
            _header_field(msgid, _MSGID_MAX),
            format_structured_data(structured_data),
        )
    ).encode("utf-8")  # PARAM-VALUEs are UTF-8; everything else is ASCII by now
    if msg is None:
        body = b""
    else:
        body = b" " + (BOM if bom else b"") + msg.encode("utf-8")
    if max_octets is not None:
        if len(header) > max_octets:
            raise ValueError(f"max_octets={max_octets} is shorter than the syslog header")
        room = max_octets - len(header)
        if len(body) > room:
            body = _cut_utf8(body, room)
    return header + body


def _cut_utf8(data: bytes, limit: int) -> bytes:
    """``data[:limit]`` without a partial UTF-8 sequence at the end."""
    cut = data[:limit]
    # Step back over continuation bytes (10xxxxxx) and the lead byte of a split character.
    i = len(cut)
    while i > 0 and (cut[i - 1] & 0xC0) == 0x80:
        i -= 1
    if i > 0 and cut[i - 1] >= 0xC0:
        lead = cut[i - 1]
        need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if len(cut) - (i - 1) < need:
            return cut[: i - 1]
    return cut


def frame_octet_counted(message: bytes) -> bytes:
    """``MSG-LEN SP SYSLOG-MSG`` (RFC 6587 §3.4.1 / RFC 5425 §4.3)."""
    if not message:
        raise ValueError("a syslog frame must not be empty")
    return str(len(message)).encode("ascii") + b" " + message


def split_octet_counted(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete frames at the start of ``buffer`` and the unconsumed rest.

    Raises :class:`FramingError` when the stream is not octet-counted: a length with a leading
    zero, a non-digit before the space, or a length longer than ten digits.
    """
    frames: list[bytes] = []
    pos = 0
    while pos < len(buffer):
        space = buffer.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
        if space == -1:
            digits = buffer[pos:]
            if len(digits) > _MAX_LEN_DIGITS or not digits.isdigit():
                raise FramingError(f"bad MSG-LEN {digits[:12]!r}")
            break  # length not complete yet
        digits = buffer[pos:space]
        if not digits.isdigit() or digits.startswith(b"0"):
            raise FramingError(f"bad MSG-LEN {digits[:12]!r}")
        length = int(digits)
        end = space + 1 + length
        if end > len(buffer):
            break
        frames.append(buffer[space + 1 : end])
        pos = end
    return frames, buffer[pos:]
