"""Field readers and value maps shared by the normalisers.

Every reader raises :class:`InvalidRecordError` with the JSON path of the offending field, so
the dead-letter topic says exactly what was wrong. Nothing here knows a payload's overall shape.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import AlertStatus, Module, Severity, Vulnerability

__all__ = [
    "STAGE",
    "content_hash",
    "max_severity",
    "known_severity",
    "module_for_policy",
    "opt_map",
    "opt_str",
    "req_map",
    "req_str",
    "severity_of",
    "status_of",
    "to_datetime",
]

STAGE = "normalise"

_SEVERITY: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
    "informational": Severity.INFORMATIONAL,
    "info": Severity.INFORMATIONAL,
}
_SEVERITY_RANK: Mapping[Severity, int] = {s: i for i, s in enumerate(Severity)}

_STATUS: Mapping[str, AlertStatus] = {
    "open": AlertStatus.OPEN,
    "pending_resolution": AlertStatus.OPEN,
    "resolved": AlertStatus.RESOLVED,
    "dismissed": AlertStatus.DISMISSED,
    "snoozed": AlertStatus.SNOOZED,
}

_MODULE_BY_POLICY_TYPE: Mapping[str, Module] = {
    "config": Module.CSPM,
    "network": Module.CSPM,
    "audit_event": Module.CSPM,
    "anomaly": Module.CSPM,
    "data": Module.CSPM,
    "attack_path": Module.CSPM,
    "api": Module.CSPM,
    "malware": Module.CSPM,
    "grayware": Module.CSPM,
    "iam": Module.CIEM,
    "workload_vulnerability": Module.CWPP,
    "workload_incident": Module.CWPP,
    "iac": Module.CODE,
    "build": Module.CODE,
    "secrets": Module.CODE,
}


def req_map(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """Return ``obj[key]`` when it is a JSON object; raise InvalidRecordError naming ``path`` otherwise."""
    value = obj.get(key)
    if not isinstance(value, Mapping):
        what = "missing" if value is None else f"not an object ({type(value).__name__})"
        raise InvalidRecordError(f"{path}.{key} {what}" if path else f"{key} {what}", stage=STAGE)
    return value


def opt_map(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Return ``obj[key]`` when it is a JSON object, else an empty mapping (absent, null, wrong type)."""
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def req_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    """Return a required non-empty string (numbers are accepted and converted, as ids sometimes are)."""
    value = obj.get(key)
    if isinstance(value, bool) or value is None:
        raise InvalidRecordError(f"{path}.{key} missing" if path else f"{key} missing", stage=STAGE)
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        full = f"{path}.{key}" if path else key
        raise InvalidRecordError(f"{full} must be a non-empty string", stage=STAGE)
    return value


def opt_str(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    """Return an optional string; numbers are converted, anything else gives ``default``."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return default


_COMPUTE_TIME_FORMATS = (
    "%b %d, %Y %H:%M:%S UTC", "%b %d, %Y UTC", "%b %d, %Y %H:%M:%S", "%B %d, %Y %H:%M:%S %p",
)


def _parse_text_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _COMPUTE_TIME_FORMATS:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise


#: Words that Prisma payloads use for "no date" (besides null, "" and the zero times below).
_NO_DATE_WORDS = frozenset({"", "0", "n/a", "na", "null", "none", "-"})
#: The earliest time that counts as a date. Go's zero time (``0001-01-01T00:00:00Z``, what Compute
#: writes for a scan that never happened) and the Unix epoch itself (``0``, ``1970-01-01T00:00:00Z``,
#: XSOAR's ``January 01, 1970 00:00:00 AM``) are placeholders, never a moment an alert was seen.
_EARLIEST_DATE = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def to_datetime(value: Any, path: str) -> datetime | None:
    """Parse a payload timestamp into an aware UTC datetime, or None when it says "no date".

    Accepts epoch milliseconds (CSPM), epoch seconds (values below 10^11, Compute ``published``),
    ISO-8601 strings (Compute API) and the Compute webhook ``#time`` form ``Jun 10, 2024 14:03:11 UTC``.
    "No date" is null, an empty string, ``N/A``-like words, ``0``, Go's zero time
    ``0001-01-01T00:00:00Z`` and anything else at or before the Unix epoch: Compute writes the zero
    time for scans that never ran, and no alert is older than 1970. A present but unparseable value
    raises InvalidRecordError naming ``path``.
    """
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError("boolean")
        if isinstance(value, (int, float)):
            seconds = value / 1000.0 if abs(value) >= 1e11 else float(value)
            return _dated(datetime.fromtimestamp(seconds, tz=UTC))
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in _NO_DATE_WORDS:
                return None
            if text.isdigit():
                return to_datetime(int(text), path)
            parsed = _parse_text_time(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return _dated(parsed.astimezone(UTC))
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidRecordError(f"{path} is not a timestamp: {value!r:.60}", stage=STAGE) from exc
    raise InvalidRecordError(f"{path} is not a timestamp: {type(value).__name__}", stage=STAGE)


def _dated(moment: datetime) -> datetime | None:
    return moment if moment >= _EARLIEST_DATE else None


def severity_of(value: Any, path: str, default: Severity | None = None) -> Severity:
    """Map a Prisma severity word (any case, vendor words like ``important`` included) to :class:`Severity`."""
    if isinstance(value, str):
        sev = _SEVERITY.get(value.strip().lower())
        if sev is not None:
            return sev
    if default is not None and (value is None or value == ""):
        return default
    raise InvalidRecordError(f"{path} is not a known severity: {value!r:.40}", stage=STAGE)


def known_severity(value: Any) -> Severity | None:
    """Map a severity word leniently: the :class:`Severity` it names, or None for anything else.

    For severities nested inside Compute records (CVEs, compliance issues, aggregated audits),
    where one odd word must not cost the whole alert: the caller falls back to its documented
    default and says so in the description.
    """
    if isinstance(value, str):
        return _SEVERITY.get(value.strip().lower())
    return None


def max_severity(values: Iterable[Severity], default: Severity) -> Severity:
    """Return the most severe of ``values`` (``default`` when empty)."""
    best: Severity | None = None
    for s in values:
        if best is None or _SEVERITY_RANK[s] > _SEVERITY_RANK[best]:
            best = s
    return best if best is not None else default


def status_of(value: Any, path: str) -> AlertStatus:
    """Map a CSPM status (``pending_resolution`` counts as open) to :class:`AlertStatus`."""
    if isinstance(value, str):
        st = _STATUS.get(value.strip().lower())
        if st is not None:
            return st
    raise InvalidRecordError(f"{path} is not a known alert status: {value!r:.40}", stage=STAGE)


def module_for_policy(policy_type: str, subtypes: Iterable[str] = ()) -> Module:
    """Return the module of a CSPM-API finding from its ``policyType`` (and ``policySubTypes``).

    config/network/audit_event/anomaly/data → CSPM, iam → CIEM, workload_* → CWPP,
    iac/build/secrets → CODE; a config policy whose only subtype is ``build`` is an IaC
    (Code Security) policy. Unknown types count as CSPM: the alert came through the CSPM API.
    """
    ptype = policy_type.strip().lower()
    module = _MODULE_BY_POLICY_TYPE.get(ptype, Module.CSPM)
    if module is Module.CSPM:
        subs = {s.lower() for s in subtypes if isinstance(s, str)}
        if "build" in subs and "run" not in subs and "run_and_build" not in subs:
            return Module.CODE
    return module


def content_hash(
    status: AlertStatus,
    severity: Severity,
    policy_id: str,
    asset_id: str,
    resource_id: str,
    vulnerabilities: Iterable[Vulnerability],
    extra: Iterable[str] = (),
) -> str:
    """Hash the fields whose change is worth telling someone about, stable across re-polls.

    Timestamps, history, reasons and resource data are left out on purpose: a re-poll of an
    unchanged alert must give the same hash. Vulnerabilities are sorted, so their order in the
    payload does not matter. ``extra`` carries other meaningful facts (a scan's vulnerability
    counts when it lists no CVEs, compliance check ids); it is sorted too, and empty adds nothing.
    """
    vulns = sorted(
        f"{v.cve}|{v.package}|{v.installed_version}|{v.fixed_version}" for v in vulnerabilities
    )
    text = "\x1f".join((status.value, severity.value, policy_id, asset_id, resource_id, *vulns, *sorted(extra)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
