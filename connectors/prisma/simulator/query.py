"""``/v2/alert`` query semantics: filters, time ranges, sorting and opaque page tokens.

Filters with the same name are OR'ed and different names AND'ed (the reference marks this
[UNCONFIRMED]); values compare case-insensitively. The time range applies to ``alertTime`` unless a
``timeRange.type`` filter says ``ALERT_UPDATED`` (``lastUpdated``) or ``ALERT_STATUS_UPDATED``
(``lastSeen``). Relative and ``to_now`` ranges are resolved to an absolute range when the query
starts, as the decoded real token in the reference shows.

Page tokens are base64 of a JSON document like the real ones (query, ``searchAfter``) plus a
snapshot id, an offset and an HMAC so a tampered token is rejected. The snapshot keeps the matching
alert dicts as they were when page one was served, so paging is stable while the estate changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "ALLOWED_SORT",
    "QueryError",
    "decode_token",
    "encode_token",
    "match_filters",
    "resolve_time_range",
    "sort_alerts",
]

ALLOWED_SORT = ("firstseen", "lastseen", "resource.regionid", "alerttime", "id",
                "resource.accountid", "status", "resource.id")
_UNIT_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 7 * 86_400_000,
            "month": 30 * 86_400_000, "year": 365 * 86_400_000}
_TIME_FIELDS = {"ALERT_OPENED": "alertTime", "ALERT_UPDATED": "lastUpdated",
                "ALERT_STATUS_UPDATED": "lastSeen"}


class QueryError(ValueError):
    """A query the real API would reject with 400; ``i18n_key`` and ``subject`` go to the header."""

    def __init__(self, message: str, *, i18n_key: str = "invalid_parameter_value",
                 subject: str | None = None) -> None:
        super().__init__(message)
        self.i18n_key = i18n_key
        self.subject = subject


def _many(values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (list, tuple)):
        return [str(v) for v in values]
    return [str(values)]


_FIELDS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "alert.id": lambda a: [a["id"]],
    "alert.status": lambda a: [a["status"]],
    "policy.severity": lambda a: _many(a["policy"].get("severity")),
    "policy.type": lambda a: [a["policy"]["policyType"]],
    "policy.name": lambda a: _many(a["policy"].get("name")),
    "policy.id": lambda a: [a["policyId"]],
    "policy.label": lambda a: _many(a["policy"].get("labels")),
    "policy.subtype": lambda a: _many(a["policy"].get("policySubTypes")),
    "policy.remediable": lambda a: [str(a["policy"]["remediable"]).lower()],
    "policy.complianceStandard": lambda a: [
        c["standardName"] for c in a["policy"].get("complianceMetadata", [])],
    "cloud.type": lambda a: [a["resource"]["cloudType"]],
    "cloud.account": lambda a: [a["resource"]["account"]],
    "cloud.accountId": lambda a: [a["resource"]["accountId"]],
    "cloud.region": lambda a: [a["resource"]["region"], a["resource"]["regionId"]],
    "cloud.service": lambda a: [a["resource"]["cloudServiceName"]],
    "account.group": lambda a: _many(a["resource"].get("cloudAccountGroups")),
    "resource.id": lambda a: [a["resource"]["id"]],
    "resource.name": lambda a: [a["resource"]["name"]],
    "resource.type": lambda a: [a["resource"]["resourceType"]],
}
SUPPORTED_FILTERS = tuple(_FIELDS) + ("timeRange.type",)


def normalise_filters(raw: Any) -> list[dict[str, str]]:
    """Validate the body's ``filters`` list; raises :class:`QueryError` like the API's 400."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise QueryError("filters must be a list", subject="filters")
    out = []
    for item in raw:
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            raise QueryError("filter needs name and value", i18n_key="missing_required_parameter",
                             subject="filters")
        if item.get("operator", "=") != "=":
            raise QueryError("only the '=' operator is supported", subject=str(item["name"]))
        if item["name"] not in SUPPORTED_FILTERS:
            raise QueryError(f"unknown filter {item['name']}", subject=str(item["name"]))
        out.append({"name": str(item["name"]), "operator": "=", "value": str(item["value"])})
    return out


def time_field(filters: Sequence[Mapping[str, str]]) -> str:
    for f in filters:
        if f["name"] == "timeRange.type":
            if f["value"] not in _TIME_FIELDS:
                raise QueryError("unknown timeRange.type", subject="timeRange.type")
            return _TIME_FIELDS[f["value"]]
    return "alertTime"


def match_filters(alert: dict[str, Any], filters: Sequence[Mapping[str, str]]) -> bool:
    """True when ``alert`` passes every filter name (any value of a repeated name)."""
    wanted: dict[str, set[str]] = {}
    for f in filters:
        if f["name"] != "timeRange.type":
            wanted.setdefault(f["name"], set()).add(f["value"].lower())
    for name, values in wanted.items():
        have = {v.lower() for v in _FIELDS[name](alert)}
        if not have & values:
            return False
    return True


def resolve_time_range(raw: Any, now_ms: int) -> tuple[int, int]:
    """``(start_ms, end_ms)`` for a time-range object; :class:`QueryError` when malformed."""
    if raw is None:
        return 0, now_ms
    if not isinstance(raw, dict) or "type" not in raw:
        raise QueryError("timeRange needs a type", subject="timeRange")
    kind, value = raw["type"], raw.get("value")
    if kind in ("relative", "absolute") and not isinstance(value, dict):
        raise QueryError("timeRange.value must be an object", subject="timeRange.value")
    obj: dict[str, Any] = value if isinstance(value, dict) else {}
    try:
        if kind == "relative":
            unit = obj["unit"]
            if unit not in _UNIT_MS:
                raise QueryError(f"unknown unit {unit}", subject="timeRange.value.unit")
            return now_ms - int(obj["amount"]) * _UNIT_MS[unit], now_ms
        if kind == "absolute":
            return int(obj.get("startTime", 0)), int(obj["endTime"])
        if kind == "to_now":
            now = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            starts = {"epoch": datetime(1970, 1, 1, tzinfo=timezone.utc),
                      "login": datetime(1970, 1, 1, tzinfo=timezone.utc), "day": day,
                      "week": day - timedelta(days=day.weekday()), "month": day.replace(day=1),
                      "year": day.replace(month=1, day=1)}
            return int(starts[str(value).lower()].timestamp() * 1000), now_ms
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise QueryError(f"malformed timeRange: {exc}", subject="timeRange") from exc
    raise QueryError(f"unknown timeRange type {kind}", subject="timeRange.type")


def _sort_key(column: str) -> Callable[[dict[str, Any]], Any]:
    return {
        "firstseen": lambda a: a["firstSeen"],
        "lastseen": lambda a: a["lastSeen"],
        "alerttime": lambda a: a["alertTime"],
        "id": lambda a: int(a["id"][2:]),
        "status": lambda a: a["status"],
        "resource.regionid": lambda a: a["resource"]["regionId"],
        "resource.accountid": lambda a: a["resource"]["accountId"],
        "resource.id": lambda a: a["resource"]["id"],
    }[column]


def parse_sort(sort_by: Any) -> list[tuple[str, bool]]:
    """``["alertTime:asc"]`` -> ``[("alerttime", False)]`` (column, descending)."""
    items = _many(sort_by) or ["alertTime:asc"]
    out = []
    for item in items:
        column, _, direction = item.partition(":")
        column = column.strip().lower()
        if column not in ALLOWED_SORT or direction.lower() not in ("", "asc", "desc"):
            raise QueryError(f"cannot sort by {item}", subject="sortBy")
        out.append((column, direction.lower() == "desc"))
    return out


def sort_alerts(alerts: list[dict[str, Any]], sort: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort; the numeric alert id is always the final tie-breaker."""
    ordered = sorted(alerts, key=lambda a: int(a["id"][2:]))
    for column, desc in reversed(sort):
        ordered.sort(key=_sort_key(column), reverse=desc)
    return ordered


def _sig(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()[:24]


def encode_token(doc: dict[str, Any], secret: bytes) -> str:
    """An opaque page token: base64(JSON) with an HMAC so the server can trust it on return."""
    body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    wrapped = json.dumps({"q": doc, "sig": _sig(secret, body)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(wrapped.encode()).decode().rstrip("=")


def decode_token(token: str, secret: bytes) -> dict[str, Any]:
    """The document inside ``token``; :class:`QueryError` if it is malformed or forged."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        wrapped = json.loads(raw)
        doc = wrapped["q"]
        body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        ok = hmac.compare_digest(wrapped["sig"], _sig(secret, body))
    except (ValueError, KeyError, TypeError) as exc:
        raise QueryError("malformed page token", subject="pageToken") from exc
    if not ok or not isinstance(doc, dict):
        raise QueryError("invalid page token", subject="pageToken")
    return doc
