"""HEC event envelopes and the pure mapper from :class:`~processors.records.SiemEvent`.

An envelope is what one event looks like inside a ``/services/collector/event`` body:
``{"time", "host", "source", "sourcetype", "index", "event", "fields"}``; every key but ``event``
is optional. ``fields`` are indexed fields and must be flat (string or list-of-string values);
HEC answers a nested one with code 15.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectors.splunk.settings import SplunkHecSettings
from processors.records import SiemEvent

__all__ = ["HecEvent", "siem_event_to_hec"]

#: Low-cardinality SiemEvent fields also sent as indexed fields, for fast ``tstats`` searches.
INDEXED_FIELDS = ("module", "tier", "severity", "status", "cloud")


class HecEvent(BaseModel):
    """One event for HEC, with its metadata resolved (``None`` means "the token's default")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: dict[str, Any] | str
    time: float | None = Field(default=None, description="Epoch seconds; decimals allowed.")
    host: str | None = None
    source: str | None = None
    sourcetype: str | None = None
    index: str | None = None
    fields: dict[str, str | list[str]] | None = None
    key: str = Field(default="", description="Caller's id for logs and dead letters; not sent.")

    def envelope(self) -> dict[str, Any]:
        """The JSON object HEC receives, without the keys left unset."""
        out: dict[str, Any] = {}
        if self.time is not None:
            out["time"] = round(self.time, 3)
        for name in ("host", "source", "sourcetype", "index"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["event"] = self.event
        if self.fields:
            out["fields"] = self.fields
        return out

    def encode(self) -> bytes:
        """Compact UTF-8 JSON of :meth:`envelope`: the unit batches are measured in."""
        return json.dumps(self.envelope(), separators=(",", ":"), ensure_ascii=False).encode()


def siem_event_to_hec(event: SiemEvent, settings: SplunkHecSettings) -> HecEvent:
    """The HEC event for one SIEM event: routed index/sourcetype/source, event time, fields.

    Pure; called by the Splunk sink for each record of ``prisma.siem.events``. The first routing
    rule matching the event's module, tier and severity picks the index/sourcetype/source; unset
    targets fall back to the settings' defaults.
    """
    index, sourcetype, source = settings.index, settings.sourcetype, settings.source
    for route in settings.routes:
        if route.matches(event.module, event.tier, event.severity):
            index = route.index or index
            sourcetype = route.sourcetype or sourcetype
            source = route.source or source
            break
    body = event.model_dump(mode="json", exclude_none=True)
    fields: dict[str, str | list[str]] = {
        name: str(body[name]) for name in INDEXED_FIELDS if body.get(name)
    }
    return HecEvent(
        event=body,
        time=event.event_time.timestamp(),
        host=settings.host,
        source=source,
        sourcetype=sourcetype,
        index=index,
        fields=fields,
        key=event.event_id,
    )
