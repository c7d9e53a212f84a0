"""Compute alert-profile webhook bodies: split, validate, identify and normalise them.

The webhook receiver calls :func:`compute_webhook_items` on a request body (one Compute body, or
an array of them) and :func:`compute_webhook_problem` on each item it returns, and keys the good
ones with :func:`compute_webhook_alert_id`; the stream stage normalises them with
:func:`normalise_compute_webhook`. All four share the rules below, so what the receiver accepts
is what the stage can normalise.

* The alert type comes from ``type`` (else ``kind``) and the catalogue in
  :mod:`processors.normalise.compute_types`. A body without either is a vulnerability alert when
  it lists vulnerabilities, a compliance alert when it lists compliance issues, and otherwise
  rejected. A type outside the catalogue is rejected with a reason that names it, once per body.
* A vulnerability alert lists every image or host with new CVEs in ``#vulnerabilities``; it is
  split into one body per image or host entry, each one alert with that entry's CVE list. When
  the list holds CVE records directly (no image/host entries), the body is one alert for its own
  image or host: never one dead letter per CVE.
* Every other body is one alert (:mod:`processors.normalise.compute_webhook_kinds` says what each
  kind becomes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from processors.errors import InvalidRecordError
from processors.models import AlertSource, RawAlert
from processors.normalise._compute_common import Normalised, Origin
from processors.normalise._fields import STAGE
from processors.normalise.compute_types import AlertType, Category, alert_type_of
from processors.normalise.compute_webhook_kinds import (
    cloud_discovery_alert,
    compliance_alert,
    event_alert,
    is_vulnerability_entry,
    vulnerability_alert,
)

__all__ = [
    "compute_webhook_alert_id",
    "compute_webhook_items",
    "compute_webhook_problem",
    "normalise_compute_webhook",
    "split_compute_webhook",
]

_Builder = Callable[[Origin, Mapping[str, Any], AlertType, str], Normalised]
_BUILDERS: Mapping[Category, _Builder] = {
    Category.VULNERABILITY: vulnerability_alert,
    Category.COMPLIANCE: compliance_alert,
    Category.CLOUD_DISCOVERY: cloud_discovery_alert,
}
_INFERRED_VULNERABILITY = AlertType("vulnerability", Category.VULNERABILITY)
_INFERRED_COMPLIANCE = AlertType("compliance", Category.COMPLIANCE)
#: Identifying a body does not depend on when it was received; this stands in for that time.
_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _nonempty_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


def _alert_type(body: Mapping[str, Any]) -> tuple[AlertType, str]:
    """The body's alert type and its name as written; raises InvalidRecordError when unsupported."""
    atype, name = alert_type_of(body)
    if atype is not None:
        return atype, name
    if name:
        raise InvalidRecordError(f"unsupported Compute alert type {name!r:.60}", stage=STAGE)
    if _nonempty_list(body.get("vulnerabilities")):
        return _INFERRED_VULNERABILITY, "vulnerability"
    if _nonempty_list(body.get("complianceIssues")):
        return _INFERRED_COMPLIANCE, "compliance"
    raise InvalidRecordError(
        "compute_webhook body has no type (nor kind) and lists neither vulnerabilities nor compliance issues",
        stage=STAGE)


def split_compute_webhook(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Split one Compute body into one body per finding (module docstring).

    Only a vulnerability alert whose ``vulnerabilities`` lists several image/host entries is
    split (each entry with the other macros copied; CVE records listed beside entries become one
    more body). Everything else, unsupported types included, comes back as a one-element list.
    """
    try:
        atype, _ = _alert_type(body)
    except InvalidRecordError:
        return [dict(body)]
    listed = body.get("vulnerabilities")
    if atype.category is not Category.VULNERABILITY or not isinstance(listed, list):
        return [dict(body)]
    entries = [v for v in listed if is_vulnerability_entry(v)]
    if len(entries) <= 1 and len(entries) == len(listed):
        return [dict(body)]
    if not entries:
        return [dict(body)]
    others = [v for v in listed if not is_vulnerability_entry(v)]
    parts = [{**body, "vulnerabilities": [entry]} for entry in entries]
    if others:
        parts.append({**body, "vulnerabilities": others})
    return parts


def compute_webhook_items(document: object) -> list[object]:
    """The items the receiver validates and writes: a body, or each element of an array of
    bodies, split by :func:`split_compute_webhook`; a non-object element stays as it is (and is
    dead-lettered by :func:`compute_webhook_problem`)."""
    bodies = document if isinstance(document, list) else [document]
    items: list[object] = []
    for body in bodies:
        items.extend(split_compute_webhook(body) if isinstance(body, Mapping) else [body])
    return items


def _normalise_body(origin: Origin, body: Any) -> Normalised:
    if not isinstance(body, Mapping):
        raise InvalidRecordError("compute_webhook payload must be a JSON object", stage=STAGE)
    atype, name = _alert_type(body)
    builder = _BUILDERS.get(atype.category, event_alert)
    return builder(origin, body, atype, name)


def compute_webhook_problem(item: object) -> str | None:
    """Why the receiver must dead-letter ``item`` (the normaliser's reason), or None when it is good."""
    if not isinstance(item, Mapping):
        return f"expected a JSON object, got {type(item).__name__}"
    vulnerabilities = item.get("vulnerabilities")
    if vulnerabilities not in (None, "") and not isinstance(vulnerabilities, list):
        return "vulnerabilities must be a list"
    try:
        _normalise_body(Origin(AlertSource.COMPUTE_WEBHOOK, _ANY_TIME), item)
    except InvalidRecordError as exc:
        return exc.reason
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        return f"compute_webhook payload not normalisable: {type(exc).__name__}: {exc}"[:300]
    return None


def compute_webhook_alert_id(body: Mapping[str, Any]) -> str:
    """The alert id :func:`normalise_compute_webhook` gives this (already split) body.

    The webhook receiver keys raw alerts with it, so Prisma's retry of the same event, and the API
    scan of the same image or host, land on the same key. Raises InvalidRecordError like the
    normaliser for a body it cannot normalise.
    """
    alert, _ = _normalise_body(Origin(AlertSource.COMPUTE_WEBHOOK, _ANY_TIME), body)
    return alert.alert_id


def normalise_compute_webhook(raw: RawAlert, payload: Any) -> Normalised:
    """Normalise one Compute alert-profile webhook body (module docstring for the rules)."""
    return _normalise_body(Origin(raw.source, raw.received_at), payload)
