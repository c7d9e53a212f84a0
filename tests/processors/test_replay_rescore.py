"""A replayed record (``prismaflow replay``) is scored again only when it is the version dedupe
accepted last: today's policy re-triages it as an update, and an older copy never reverts a status."""

from __future__ import annotations

import json

from processors.enrich import enrich
from processors.graph.step import AssetView, Step, step_alert
from processors.models import AlertStatus, RawAlert, UpdateKind
from processors.normalise import normalise_with_data
from tests.factories import _CSPM_PAYLOAD, make_raw_alert
from tests.processors.graph_core import CONTEXT, POLICY


def _version(status: str, alert_time_ms: int) -> RawAlert:
    payload = json.loads(_CSPM_PAYLOAD)
    payload["status"], payload["alertTime"] = status, alert_time_ms
    return make_raw_alert(payload_json=json.dumps(payload))


def _step(view: AssetView | None, raw: RawAlert, *, rescore: bool = False) -> Step:
    alert, data = normalise_with_data(raw)
    alert = enrich(alert, CONTEXT, data)
    return step_alert(view or AssetView(alert.resource.asset_id), alert, data, POLICY, alert.ingested_at,
                      rescore=rescore)


def test_the_current_version_replayed_is_scored_again_as_a_recurrence() -> None:
    first = _step(None, _version("open", 1741944413589))
    assert [s.update_kind for s in first.scored] == [UpdateKind.NEW]
    assert _step(first.view, _version("open", 1741944413589)).scored == ()  # a plain re-observation: dropped
    replayed = _step(first.view, _version("open", 1741944413589), rescore=True)
    assert [(s.alert.alert_id, s.update_kind) for s in replayed.scored] == [("P-4711", UpdateKind.RECURRENCE)]
    assert replayed.scored[0].score == first.scored[0].score  # same policy, same record time: same score
    assert replayed.view.dedupe is not None and replayed.view.dedupe.status is AlertStatus.OPEN


def test_an_older_version_replayed_after_a_newer_one_is_still_dropped() -> None:
    opened = _step(None, _version("open", 1741944413589))
    resolved = _step(opened.view, _version("resolved", 1741944500000))
    assert resolved.view.dedupe is not None and resolved.view.dedupe.status is AlertStatus.RESOLVED
    stale = _step(resolved.view, _version("open", 1741944413589), rescore=True)
    assert stale.scored == ()  # the replay does not reopen what was resolved since
    assert stale.view.dedupe is not None and stale.view.dedupe.status is AlertStatus.RESOLVED
