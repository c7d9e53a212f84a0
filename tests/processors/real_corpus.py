"""Loads the real-payload corpus (``tests/data/real``) and its expectations for the tests that use it.

Each sample is the payload exactly as its source delivers it (a CSPM API item, a CSPM webhook
notification or array, a Compute API record, a Compute webhook body). :func:`raw_alerts` turns a
sample into the RawAlerts a Prismaflow source would write: a Compute API record wrapped in the
poller's envelope, a Compute webhook body split like the receiver splits it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from processors.models import AlertSource, RawAlert
from processors.normalise.compute_webhook import compute_webhook_items

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real"


@dataclass(frozen=True)
class Sample:
    """One corpus file and what it must normalise to (see ``expectations.yaml``)."""

    name: str
    source: AlertSource
    payload: Any
    kind: str = ""
    dead_letter: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)


@cache
def _expectations() -> dict[str, Any]:
    loaded = yaml.safe_load((CORPUS / "expectations.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def received_at() -> datetime:
    """The time every corpus RawAlert is received at (``received`` in the expectations)."""
    return datetime.fromisoformat(_expectations()["received_at"])


def samples() -> list[Sample]:
    """Every sample named in the expectations, in file order."""
    out = []
    for name, spec in _expectations()["samples"].items():
        payload = json.loads((CORPUS / name).read_text(encoding="utf-8"))
        out.append(Sample(name=name, source=AlertSource(spec["source"]), payload=payload, kind=spec.get("kind", ""),
                          dead_letter=spec.get("dead_letter", ""), alerts=list(spec.get("alerts", []))))
    return out


def sample(name: str) -> Sample:
    """The sample stored at ``name`` (relative to the corpus folder)."""
    return next(s for s in samples() if s.name == name)


def corpus_files() -> list[str]:
    """Every JSON file in the corpus, relative to its folder."""
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.json"))


def raw_alert(source: AlertSource, payload: Any) -> RawAlert:
    """A RawAlert carrying ``payload`` as a source would write it."""
    text = json.dumps(payload)
    return RawAlert(ingest_id=str(uuid.uuid5(uuid.NAMESPACE_URL, text)), source=source, source_alert_id="corpus",
                    received_at=received_at(), payload_json=text,
                    content_hash=hashlib.sha256(text.encode()).hexdigest())


def raw_alerts(item: Sample) -> list[RawAlert]:
    """The RawAlerts the sample becomes: Compute API records enveloped, Compute bodies split."""
    if item.source is AlertSource.COMPUTE_API:
        return [raw_alert(item.source, {"kind": item.kind, "record": item.payload})]
    if item.source is AlertSource.COMPUTE_WEBHOOK:
        return [raw_alert(item.source, part) for part in compute_webhook_items(item.payload)]
    return [raw_alert(item.source, item.payload)]
