"""The collector endpoints: ``/event`` (concatenated JSON) and ``/raw`` (lines), gzip bodies,
per-token indexes, and the acknowledgement id a successful batch gets on an ack channel."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.splunk.simulator.config import SimToken, hec_reply

if TYPE_CHECKING:
    from connectors.splunk.simulator.app import HecSimulator

__all__ = ["event", "raw"]


class _Invalid(Exception):
    def __init__(self, code: int, text: str, number: int) -> None:
        super().__init__(text)
        self.code, self.text, self.number = code, text, number


async def _read(sim: HecSimulator, request: Request) -> tuple[bytes, bytes] | Response:
    """The body as sent and as decoded (gunzipped); a HEC error for a bad, empty or big body."""
    wire = await request.body()
    data = wire
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            data = gzip.decompress(wire)
        except (OSError, EOFError, zlib.error):
            return hec_reply(400, "Invalid data format", 6)
    if len(data) > sim.config.max_content_length:
        return hec_reply(413, f"Content-Length of {len(data)} too large (maximum is "
                              f"{sim.config.max_content_length})", None)
    if not data.strip():
        return hec_reply(400, "No data", 5)
    return wire, data


def _check(sim: HecSimulator, obj: Any, token: SimToken, number: int) -> dict[str, Any]:
    """Event number ``number`` of a batch as stored; :class:`_Invalid` with HEC's code if bad."""
    if not isinstance(obj, dict):
        raise _Invalid(6, "Invalid data format", number)
    if "event" not in obj:
        raise _Invalid(12, "Event field is required", number)
    if obj["event"] in ("", None):
        raise _Invalid(13, "Event field cannot be blank", number)
    fields = obj.get("fields", {})
    if not isinstance(fields, dict) or any(
            not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v)))
            for v in fields.values()):
        raise _Invalid(15, "Error in handling indexed fields", number)
    index = obj.get("index", token.default_index)
    if index not in token.indexes:
        raise _Invalid(7, "Incorrect index", number)
    stamp = obj.get("time", sim.clock())
    try:
        stamp = float(stamp)
    except (TypeError, ValueError):
        raise _Invalid(6, "Invalid data format", number) from None
    if len(json.dumps(obj)) > sim.config.max_event_size:
        raise _Invalid(6, "Invalid data format", number)
    return {"time": stamp, "host": obj.get("host", "sim-hec"),
            "source": obj.get("source", "http:prismaflow"),
            "sourcetype": obj.get("sourcetype", "httpevent"), "index": index,
            "event": obj["event"], "fields": fields}


def _events(sim: HecSimulator, data: bytes, token: SimToken) -> tuple[list[dict[str, Any]], _Invalid | None]:
    """The events of a concatenated-JSON body, up to the first bad one (and why it is bad)."""
    accepted: list[dict[str, Any]] = []
    decoder, text, at = json.JSONDecoder(), data.decode("utf-8", "replace"), 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return accepted, None
        try:
            obj, at = decoder.raw_decode(text, at)
            accepted.append(_check(sim, obj, token, len(accepted)))
        except ValueError:
            return accepted, _Invalid(6, "Invalid data format", len(accepted))
        except _Invalid as exc:
            return accepted, exc


def _store(sim: HecSimulator, accepted: list[dict[str, Any]], wire: bytes, data: bytes,
           request: Request, channel: str | None) -> None:
    if not accepted:
        return
    number = len(sim.batches)
    sim.batches.append({"batch": number, "events": len(accepted), "wire_bytes": len(wire),
                        "bytes": len(data), "channel": channel,
                        "gzip": request.headers.get("content-encoding") == "gzip"})
    sim.events.extend({**item, "batch": number} for item in accepted)


async def event(sim: HecSimulator, request: Request, token: SimToken, channel: str | None) -> Response:
    read = await _read(sim, request)
    if isinstance(read, Response):
        return read
    wire, data = read
    accepted, error = _events(sim, data, token)
    if error is not None and sim.config.all_or_nothing:
        accepted = []
    _store(sim, accepted, wire, data, request, channel)
    if error is not None:
        return hec_reply(400, error.text, error.code, invalid_event_number=error.number)
    return sim.success(token, channel)


async def raw(sim: HecSimulator, request: Request, token: SimToken, channel: str | None) -> Response:
    read = await _read(sim, request)
    if isinstance(read, Response):
        return read
    wire, data = read
    q = request.query_params
    index = q.get("index", token.default_index)
    if index not in token.indexes:
        return hec_reply(400, "Incorrect index", 7, invalid_event_number=0)
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    _store(sim, [{"time": sim.clock(), "host": q.get("host", "sim-hec"),
                  "source": q.get("source", "http:prismaflow"),
                  "sourcetype": q.get("sourcetype", "httpevent"), "index": index,
                  "event": line, "fields": {}} for line in lines], wire, data, request, channel)
    return sim.success(token, channel)
