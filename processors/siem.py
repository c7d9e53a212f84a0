"""SIEM events from scored alerts: pure functions, no I/O.

The SIEM stage (:class:`streams.siem.SiemTopicSink`) calls :func:`siem_event` once per scored alert
and writes the result to ``prisma.siem.events``, from where the Splunk and syslog/CEF sinks (and any
downstream SIEM consumer) read it.

The ``event_id`` is derived, not random: a UUID-shaped digest of ``sha256(alert id | update kind |
scored_at)``, so a record delivered twice (at-least-once, after a crash) yields the same id and a
SIEM can drop the copy (CEF ``externalId``, a Splunk ``dedup event_id``). It is a UUID string (36
characters, RFC 9562 version 8, "custom") because the schema documents a UUID and CEF caps
``externalId`` at 40 characters, too short for a hex SHA-256.

Events are redacted (:func:`processors.redaction.redact_model`) unless the caller turns it off
(``PRISMAFLOW_SIEM_REDACT_SECRETS=false``, for a SIEM cleared to hold the raw alert text): a
secret in a policy name, resource id or summary becomes ``[REDACTED]``.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from processors.models import ScoredAlert
from processors.records import Analysis, SiemEvent
from processors.redaction import redact_model

__all__ = ["SUMMARY_MAX_CHARS", "analysis_siem_event", "siem_event", "siem_event_id", "siem_summary"]

#: Summaries are cut here (with "…"): a SIEM event points at the ticket, it does not replace it.
SUMMARY_MAX_CHARS = 1000


def siem_event_id(alert_id: str, kind: str, at: datetime | str) -> str:
    """A stable UUID-formatted id: the first 128 bits of ``sha256(alert_id|kind|at)``, version 8.

    ``at`` is a timezone-aware datetime (rendered in ISO 8601 at millisecond precision, the
    precision that survives Avro, so the id is the same before and after a trip through Kafka) or
    any other stable string such as an analysis input hash.
    """
    stamp = at.isoformat(timespec="milliseconds") if isinstance(at, datetime) else at
    digest = bytearray(hashlib.sha256(f"{alert_id}|{kind}|{stamp}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8 (custom)
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 9562 variant
    return str(uuid.UUID(bytes=bytes(digest)))


def _cap(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def siem_summary(scored: ScoredAlert, analysis: Analysis | None = None) -> str:
    """The event's one-line summary: the analysis summary when given, else the policy name and the
    factor that contributed most to the score (``"<policy>: <factor reason>"``)."""
    if analysis is not None and analysis.summary.strip():
        return _cap(analysis.summary)
    policy = scored.alert.policy_name
    top = max(scored.factors, key=lambda f: f.contribution, default=None)
    if top is None:
        return _cap(policy)
    return _cap(f"{policy}: {top.reason or top.name}")


def _check_analysis(scored: ScoredAlert, analysis: Analysis | None) -> None:
    if analysis is None:
        return
    same_alert = analysis.alert_id == scored.alert.alert_id
    same_incident = analysis.incident_id is not None and analysis.incident_id == scored.incident_id
    if not (same_alert or same_incident):
        raise ValueError(f"analysis of {analysis.alert_id} does not belong to alert {scored.alert.alert_id}")


def siem_event(scored: ScoredAlert, analysis: Analysis | None = None, *, ticket_key: str = "",
               redact: bool = True) -> SiemEvent:
    """The flat SIEM event for one scored alert (with its analysis and ticket when known).

    Pure and deterministic: the same inputs give the same event, ``event_id`` included (see the
    module docstring); ``event_time`` is ``scored_at``. Raises ``ValueError`` when ``analysis``
    belongs to another alert or incident (a caller's bug). ``redact``: secrets replaced (the default).
    """
    _check_analysis(scored, analysis)
    alert = scored.alert
    resource = alert.resource
    event = SiemEvent(
        event_id=siem_event_id(alert.alert_id, scored.update_kind.value, scored.scored_at),
        alert_id=alert.alert_id,
        asset_id=resource.asset_id,
        module=alert.module,
        policy_name=alert.policy_name,
        severity=alert.severity,
        score=scored.score,
        tier=scored.tier,
        status=alert.status,
        cloud=resource.cloud,
        account_id=resource.account_id,
        region=resource.region,
        resource_id=resource.resource_id,
        summary=siem_summary(scored, analysis),
        ticket_key=ticket_key or None,
        event_time=scored.scored_at,
    )
    return redact_model(event) if redact else event


def analysis_siem_event(scored: ScoredAlert, analysis: Analysis, *, ticket_key: str = "",
                        redact: bool = True) -> SiemEvent:
    """A follow-up event for an alert already reported, once its analysis arrived.

    Same fields as :func:`siem_event` with the analysis summary, ``event_time`` the analysis's
    ``created_at`` and an id derived from the analysis input hash, so it is a new event for the
    SIEM (not a duplicate of the first) and still stable under redelivery.
    """
    event = siem_event(scored, analysis, ticket_key=ticket_key, redact=redact)
    return event.model_copy(update={
        "event_id": siem_event_id(scored.alert.alert_id, "analysis", analysis.input_hash),
        "event_time": analysis.created_at,
    })
