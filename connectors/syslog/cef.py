"""ArcSight Common Event Format (CEF) for :class:`SiemEvent`: pure functions, no I/O.

The syslog sink calls :func:`siem_event_to_cef` once per event and puts the line into the MSG part
of an RFC 5424 message (:mod:`connectors.syslog.rfc5424`). A CEF line is::

    CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|key=value key=value ...

Escaping (the spec, as rsyslog implements it): in the header ``\\`` and ``|``; in extension values
``\\``, ``=`` and line breaks (``\\n``, ``\\r``). A pipe needs no escape in the extension. Header
fields cannot hold line breaks at all, so they become spaces there.

Extension keys used (all from the CEF dictionary, so ArcSight keeps them; Splunk, QRadar and
Sentinel parse them by name):

======================  ==============================================================
``rt``                  event time, milliseconds since the epoch
``externalId``          the SiemEvent id (unique per emitted event; SIEM-side dedupe)
``cat``                 ``<module>/<cloud>``, e.g. ``CSPM/aws``
``act``                 alert status: open, resolved, dismissed, snoozed
``msg``                 the summary
``request``             console URL of the alert, when the caller passes one
``deviceExternalId``    Prismaflow instance / Prisma tenant name, when passed
``cs1`` .. ``cs6``      alertId, assetId, cloudAccount, cloudRegion, resourceId, ticket
``cn1``                 riskScore (0-100)
``flexString1/2``       riskTier, prismaSeverity
======================  ==============================================================

``outcome`` is not sent: in CEF it is the success or failure of the reported action, and an alert
has none. ``suser``/``src`` have no source in a SiemEvent. Keys whose value is empty are left out.

Length caps: header fields per the CEF table (vendor/product 63, version 31, signature 1023,
name 512), ``msg``/``request``/``cs*`` 1023, ``externalId`` 40, and the whole line
``max_length`` (default 4096, half of the 8 KiB a syslog receiver should accept so the RFC 5424
header and escaping fit): when the line is longer, trailing (least important) extension pairs are
dropped. Caps count characters before escaping, so an escape is never cut in half.
"""

from __future__ import annotations

from processors.models import RiskTier
from processors.records import SiemEvent

__all__ = [
    "CEF_VERSION",
    "cef_severity",
    "escape_extension_value",
    "escape_header",
    "siem_event_to_cef",
    "syslog_severity",
]

CEF_VERSION = 0

#: CEF header caps, in characters (Implementing ArcSight CEF, header table).
_VENDOR_MAX = 63
_PRODUCT_MAX = 63
_VERSION_MAX = 31
_SIGNATURE_MAX = 1023
_NAME_MAX = 512
#: Extension value caps (ArcSight field lengths).
_STRING_MAX = 1023
_EXTERNAL_ID_MAX = 40
_DEVICE_EXTERNAL_ID_MAX = 255

# Tier decides the band of the CEF severity (0-3 Low, 4-6 Medium, 7-8 High, 9-10 Very-High); the
# score places the event inside its band, so a 95 critical outranks a 71 critical.
_TIER_BANDS: dict[RiskTier, tuple[int, int]] = {
    RiskTier.LOW: (0, 3),
    RiskTier.MEDIUM: (4, 6),
    RiskTier.HIGH: (7, 8),
    RiskTier.CRITICAL: (9, 10),
}

# RFC 5424 severities: 2 critical, 3 error, 4 warning, 5 notice.
_TIER_SYSLOG: dict[RiskTier, int] = {
    RiskTier.CRITICAL: 2,
    RiskTier.HIGH: 3,
    RiskTier.MEDIUM: 4,
    RiskTier.LOW: 5,
}


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_header(value: str) -> str:
    """A CEF header field: ``\\`` → ``\\\\``, ``|`` → ``\\|``, line breaks → space.

    Header fields cannot carry line breaks; they and other control characters become spaces.
    """
    value = value.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", " ")
    return "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in value)


def escape_extension_value(value: str) -> str:
    """A CEF extension value: ``\\`` → ``\\\\``, ``=`` → ``\\=``, CR/LF → ``\\r``/``\\n``.

    Leading and trailing whitespace is trimmed (parsers would lose it anyway, since pairs are
    separated by spaces); other control characters become spaces.
    """
    value = value.strip()
    value = value.replace("\\", "\\\\").replace("=", "\\=")
    value = value.replace("\r\n", "\\n").replace("\r", "\\r").replace("\n", "\\n")
    return "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in value)


def cef_severity(tier: RiskTier, score: int) -> int:
    """CEF severity 0-10: the tier's band, the score's tenth clamped into it."""
    low, high = _TIER_BANDS[tier]
    return max(low, min(high, round(max(0, min(100, score)) / 10)))


def syslog_severity(event: SiemEvent) -> int:
    """The RFC 5424 severity for an event's syslog header: critical 2 ... low 5."""
    return _TIER_SYSLOG[event.tier]


def siem_event_to_cef(
    event: SiemEvent,
    *,
    vendor: str = "Prismaflow",
    product: str = "Prismaflow",
    version: str = "0.1.0",
    console_url: str | None = None,
    device_external_id: str | None = None,
    max_length: int = 4096,
) -> str:
    """One CEF line (no syslog header, no line break) for ``event``.

    Called by the syslog sink per event. Pure and total: any event the model accepts gives a valid
    line. Raises ``ValueError`` only when ``max_length`` is too small for the header.
    """
    signature = f"prisma:{event.module.value}:{event.policy_name}"
    name = event.policy_name or event.summary or event.alert_id
    header = "|".join(
        (
            f"CEF:{CEF_VERSION}",
            escape_header(_cap(vendor, _VENDOR_MAX)),
            escape_header(_cap(product, _PRODUCT_MAX)),
            escape_header(_cap(version, _VERSION_MAX)),
            escape_header(_cap(signature, _SIGNATURE_MAX)),
            escape_header(_cap(name, _NAME_MAX)),
            str(cef_severity(event.tier, event.score)),
        )
    ) + "|"
    rt = int(event.event_time.timestamp() * 1000)
    # In order of importance: the tail is what goes when the line is too long.
    pairs: list[tuple[str, str]] = [
        ("rt", str(rt)),
        ("externalId", _cap(event.event_id, _EXTERNAL_ID_MAX)),
        ("cs1Label", "alertId"),
        ("cs1", _cap(event.alert_id, _STRING_MAX)),
        ("cn1Label", "riskScore"),
        ("cn1", str(event.score)),
        ("flexString1Label", "riskTier"),
        ("flexString1", event.tier.value),
        ("flexString2Label", "prismaSeverity"),
        ("flexString2", event.severity.value),
        ("cat", f"{event.module.value}/{event.cloud.value}"),
        ("act", event.status.value),
        ("cs2Label", "assetId"),
        ("cs2", _cap(event.asset_id, _STRING_MAX)),
        ("cs3Label", "cloudAccount"),
        ("cs3", _cap(event.account_id, _STRING_MAX)),
        ("cs4Label", "cloudRegion"),
        ("cs4", _cap(event.region, _STRING_MAX)),
        ("cs6Label", "ticket"),
        ("cs6", _cap(event.ticket_key or "", _STRING_MAX)),
        ("deviceExternalId", _cap(device_external_id or "", _DEVICE_EXTERNAL_ID_MAX)),
        ("cs5Label", "resourceId"),
        ("cs5", _cap(event.resource_id, _STRING_MAX)),
        ("request", _cap(console_url or "", _STRING_MAX)),
        ("msg", _cap(event.summary, _STRING_MAX)),
    ]
    kept = _drop_empty(pairs)
    encoded = [f"{key}={escape_extension_value(value)}" for key, value in kept]
    if len(header) > max_length:
        raise ValueError(f"max_length={max_length} is shorter than the CEF header")
    line = header + " ".join(encoded)
    while len(line) > max_length and encoded:
        encoded.pop()
        # Never leave a label without its value.
        if encoded and encoded[-1].split("=", 1)[0].endswith("Label"):
            encoded.pop()
        line = header + " ".join(encoded)
    return line


def _drop_empty(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs without empty values; a ``csNLabel`` goes with its empty ``csN``."""
    values = dict(pairs)
    kept: list[tuple[str, str]] = []
    for key, value in pairs:
        target = key.removesuffix("Label")
        if not values.get(target, "").strip():
            continue
        kept.append((key, value))
    return kept
