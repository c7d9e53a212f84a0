"""Independent checkers for the syslog tests: an RFC 5424 ABNF validator and a CEF parser.

Written from the RFC's ABNF and the CEF escaping rules, not from the code under test, so a test
that formats with :mod:`connectors.syslog` and parses here checks the format, not itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# RFC 5424 §6 ABNF, as regular expressions over the decoded header (US-ASCII).
PRINTUSASCII = r"[\x21-\x7e]"
# SD-NAME = 1*32PRINTUSASCII except '=', SP, ']', %d34 (")
SD_NAME = r"[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}"
# PARAM-VALUE: '"', '\' and ']' MUST be escaped (§6.3.3)
PARAM_VALUE = r'(?:[^"\\\]]|\\["\\\]])*'
SD_PARAM = rf'{SD_NAME}="{PARAM_VALUE}"'
SD_ELEMENT = rf"\[{SD_NAME}(?: {SD_PARAM})*\]"
TIMESTAMP = (
    r"-|(?P<date>\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))T"
    r"(?P<time>(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60))(?P<frac>\.\d{1,6})?"
    r"(?P<offset>Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
SYSLOG_MSG = re.compile(
    rf"^<(?P<pri>0|[1-9]\d{{0,2}})>(?P<version>[1-9]\d{{0,2}}) "
    rf"(?P<timestamp>{TIMESTAMP}) "
    rf"(?P<hostname>-|{PRINTUSASCII}{{1,255}}) "
    rf"(?P<app_name>-|{PRINTUSASCII}{{1,48}}) "
    rf"(?P<procid>-|{PRINTUSASCII}{{1,128}}) "
    rf"(?P<msgid>-|{PRINTUSASCII}{{1,32}}) "
    rf"(?P<sd>-|(?:{SD_ELEMENT})+)"
    rf"(?: (?P<msg>.*))?$",
    re.DOTALL,
)
BOM = b"\xef\xbb\xbf"


@dataclass
class Syslog5424:
    pri: int
    version: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: str
    msg: bytes | None

    @property
    def facility(self) -> int:
        return self.pri // 8

    @property
    def severity(self) -> int:
        return self.pri % 8


def parse_rfc5424(message: bytes) -> Syslog5424:
    """Validate one SYSLOG-MSG against the ABNF; AssertionError names what is wrong."""
    # The header and SD are ASCII except PARAM-VALUE (UTF-8); MSG may be any octets.
    text = message.decode("utf-8", errors="surrogateescape")
    match = SYSLOG_MSG.match(text)
    assert match, f"not an RFC 5424 message: {message[:200]!r}"
    pri = int(match["pri"])
    assert 0 <= pri <= 191, f"PRIVAL out of range: {pri}"
    assert match["version"] == "1", "VERSION must be 1"
    if match["timestamp"] != "-":
        datetime.fromisoformat(match["timestamp"])  # a real date
    msg: bytes | None = None
    if match["msg"] is not None:
        msg = match["msg"].encode("utf-8", errors="surrogateescape")
        if msg.startswith(BOM):
            msg[len(BOM):].decode("utf-8")  # MSG-UTF8 must be valid UTF-8
    return Syslog5424(
        pri=pri,
        version=int(match["version"]),
        timestamp=match["timestamp"],
        hostname=match["hostname"],
        app_name=match["app_name"],
        procid=match["procid"],
        msgid=match["msgid"],
        structured_data=match["sd"],
        msg=msg,
    )


def parse_sd(sd: str) -> dict[str, dict[str, str]]:
    """STRUCTURED-DATA → ``{sd_id: {name: unescaped value}}``."""
    out: dict[str, dict[str, str]] = {}
    if sd == "-":
        return out
    for element in re.finditer(rf"\[({SD_NAME})((?: {SD_PARAM})*)\]", sd):
        params = {}
        for param in re.finditer(rf'({SD_NAME})="({PARAM_VALUE})"', element.group(2)):
            params[param.group(1)] = re.sub(r'\\(["\\\]])', r"\1", param.group(2))
        out[element.group(1)] = params
    return out


# --- CEF -----------------------------------------------------------------------------------------

CEF_SEVERITIES = {"Unknown", "Low", "Medium", "High", "Very-High"}
_EXT_KEY = re.compile(r"(?:^| )([A-Za-z0-9_]+)=")


@dataclass
class Cef:
    version: str
    vendor: str
    product: str
    device_version: str
    signature: str
    name: str
    severity: str
    extension: dict[str, str] = field(default_factory=dict)


def _unescape_header(value: str) -> str:
    assert re.fullmatch(r"(?:[^\\|]|\\[\\|])*", value), f"bad header escaping: {value!r}"
    return re.sub(r"\\([\\|])", r"\1", value)


def _unescape_value(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            assert i + 1 < len(value), f"dangling backslash in {value!r}"
            nxt = value[i + 1]
            assert nxt in "\\=nr", f"unknown escape \\{nxt} in {value!r}"
            out.append({"\\": "\\", "=": "=", "n": "\n", "r": "\r"}[nxt])
            i += 2
            continue
        assert char != "=", f"unescaped '=' in value {value!r}"
        assert char not in "\r\n", f"raw line break in value {value!r}"
        out.append(char)
        i += 1
    return "".join(out)


def parse_cef(line: str) -> Cef:
    """Parse and validate one CEF line (optionally after a syslog header up to ``CEF:``)."""
    assert "\n" not in line and "\r" not in line, "a CEF line must be one line"
    start = line.find("CEF:")
    assert start != -1, f"no CEF: in {line[:120]!r}"
    line = line[start:]
    parts: list[str] = []
    current, i = [], 0
    while len(parts) < 7:
        assert i < len(line), f"CEF header has fewer than 7 '|' separators: {line[:200]!r}"
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            current.append(line[i : i + 2])
            i += 2
            continue
        if char == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    extension_text = line[i:]
    assert re.fullmatch(r"CEF:\d+", parts[0]), f"bad version field {parts[0]!r}"
    severity = parts[6]
    assert severity in CEF_SEVERITIES or (
        severity.isdigit() and 0 <= int(severity) <= 10
    ), f"bad severity {severity!r}"
    header = [_unescape_header(p) for p in parts[1:6]]
    extension: dict[str, str] = {}
    matches = list(_EXT_KEY.finditer(extension_text))
    if extension_text.strip():
        assert matches and matches[0].start() == 0, f"extension must start with key=: {extension_text[:80]!r}"
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(extension_text)
        key = match.group(1)
        assert key not in extension, f"duplicate extension key {key}"
        extension[key] = _unescape_value(extension_text[match.end() : end])
    return Cef(parts[0][4:], *header, severity, extension)


def cef_labelled(cef: Cef) -> dict[str, str]:
    """The ``csN``/``cnN``/``flexStringN`` values by their labels, e.g. ``{"alertId": ...}``."""
    out = {}
    for key, value in cef.extension.items():
        if key.endswith("Label"):
            out[value] = cef.extension.get(key[: -len("Label")], "")
    return out
