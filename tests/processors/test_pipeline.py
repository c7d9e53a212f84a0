"""Specification of the fused pipeline functions (processors/pipeline.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.feeds.store import load_default_feeds
from processors.enrich import EnrichmentContext
from processors.errors import InvalidRecordError
from processors.models import Alert, RawAlert, ScoredAlert, UpdateKind
from processors.pipeline import StageStates, normalise_and_enrich, process_for_asset
from streams.static_inputs import EXAMPLE_OWNER_MAP_PATH, load_owner_map
from streams.static_inputs import load_scoring_policy
from tests.processors import payloads as p
from tests.processors.bench_pipeline import synthetic

CTX = EnrichmentContext(feeds=load_default_feeds(), owners=load_owner_map(EXAMPLE_OWNER_MAP_PATH))
POLICY = load_scoring_policy()


class Tables:
    """A stand-in for the Kafka layer's state tables."""

    def __init__(self) -> None:
        self.dedupe: dict = {}  # type: ignore[type-arg]
        self.assets: dict = {}  # type: ignore[type-arg]
        self.history = StageStates().history

    def process(self, alert: Alert) -> ScoredAlert | None:
        states = StageStates(dedupe=self.dedupe.get(alert.alert_id), asset=self.assets.get(alert.resource.asset_id),
                             history=self.history)
        scored, new = process_for_asset(states, alert, POLICY, alert.ingested_at)
        self.dedupe[alert.alert_id] = new.dedupe
        self.assets[alert.resource.asset_id] = new.asset
        self.history = new.history
        return scored


def _raw(source: str, payload: object, minutes: int = 0) -> RawAlert:
    return p.raw(source, payload, received_at=p.RECEIVED + timedelta(minutes=minutes))


def test_normalise_and_enrich_rejects_bad_input_with_a_reason() -> None:
    with pytest.raises(InvalidRecordError) as info:
        normalise_and_enrich(_raw("cspm_api", "{oops"), CTX)
    assert info.value.stage == "normalise"


def test_end_to_end_cross_module_story() -> None:
    t = Tables()
    exposure = t.process(normalise_and_enrich(_raw("cspm_api", p.cspm_instance_alert(), 0), CTX))
    repoll = t.process(normalise_and_enrich(_raw("cspm_api", p.cspm_instance_alert(), 5), CTX))
    role = t.process(normalise_and_enrich(_raw("cspm_api", p.cspm_iam_alert(), 6), CTX))
    vulns = t.process(normalise_and_enrich(_raw("compute_api", p.compute_api("host_scan", p.compute_host_scan()), 7), CTX))
    assert exposure is not None and exposure.update_kind is UpdateKind.NEW and exposure.incident_id is None
    assert repoll is None
    assert role is not None and role.incident_id is not None
    assert vulns is not None and vulns.incident_id == role.incident_id and len(vulns.incident_members) == 3
    assert vulns.score > exposure.score
    corr = next(f for f in vulns.factors if f.name == "correlation")
    assert corr.value == 1.0 and "exposure + iam + exploitable" in corr.reason


def test_dismissal_is_learnt_and_suggested_next_time() -> None:
    t = Tables()
    t.process(normalise_and_enrich(_raw("cspm_api", p.cspm_alert(last_seen=p.T0_MS)), CTX))
    dismissed = p.cspm_alert(status="dismissed", last_seen=p.T0_MS + 1000)
    dismissed["reason"] = "USER_DISMISSED"
    out = t.process(normalise_and_enrich(_raw("cspm_api", dismissed), CTX))
    assert out is not None and out.update_kind is UpdateKind.STATUS_CHANGE and not out.suggested_dismissal
    reopened = t.process(normalise_and_enrich(_raw("cspm_api", p.cspm_alert(last_seen=p.T0_MS + 2000)), CTX))
    assert reopened is not None and reopened.update_kind is UpdateKind.STATUS_CHANGE
    assert reopened.suggested_dismissal


def test_replay_of_a_stream_reproduces_every_output() -> None:
    alerts = [normalise_and_enrich(r, CTX) for r in synthetic(400, seed=3)]
    first, second = Tables(), Tables()
    out1 = [first.process(a) for a in alerts]
    out2 = [second.process(a) for a in alerts]
    assert out1 == out2
    assert any(o is None for o in out1) and any(o is not None and o.incident_id for o in out1)
    assert all(first.process(a) is None for a in alerts)  # re-delivery after a crash: all dropped
