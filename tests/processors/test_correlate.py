"""Specification of correlation (processors/correlate.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.feeds.store import load_default_feeds
from processors.correlate import AssetState, CorrelationSettings, correlate
from processors.enrich import EnrichmentContext, enrich
from processors.models import Alert, Enrichment, Module
from processors.normalise import normalise
from tests.processors import payloads as p

NOW = datetime(2024, 6, 10, 15, 0, tzinfo=UTC)
CTX = EnrichmentContext(feeds=load_default_feeds())


def exposure() -> Alert:
    return enrich(normalise(p.raw("cspm_api", p.cspm_instance_alert())), CTX)


def iam(status: str = "open") -> Alert:
    return enrich(normalise(p.raw("cspm_api", p.cspm_iam_alert(status=status))), CTX)


def cves() -> Alert:
    return enrich(normalise(p.raw("compute_api", p.compute_api("host_scan", p.compute_host_scan()))), CTX)


def fold(alerts: list[Alert], state: AssetState | None = None, start: datetime = NOW, step: timedelta = timedelta(minutes=1),
         settings: CorrelationSettings | None = None):  # type: ignore[no-untyped-def]
    results = []
    for i, a in enumerate(alerts):
        r, state = correlate(state, a, start + i * step, None, settings)
        results.append(r)
    return results, state


def test_three_modules_on_one_instance_form_a_risky_cross_module_incident() -> None:
    a, b, c = exposure(), iam(), cves()
    assert a.resource.asset_id == b.resource.asset_id == c.resource.asset_id
    (r1, r2, r3), state = fold([a, b, c])
    assert r1.incident_id is None and r1.members == ()
    assert r2.incident_id is not None and r2.cross_module and set(r2.members) == {a.alert_id, b.alert_id}
    assert r3.incident_id == r2.incident_id
    assert set(r3.members) == {a.alert_id, b.alert_id, c.alert_id}
    assert r3.modules == {Module.CSPM, Module.CIEM, Module.CWPP}
    assert "risky combination: exposure + iam + exploitable" in r3.reason
    assert state is not None and state.incident_id == r2.incident_id


def test_incident_id_is_stable_across_replay_and_order_of_later_members() -> None:
    a, b, c = exposure(), iam(), cves()
    (_, _, r), _ = fold([a, b, c])
    (_, _, again), _ = fold([a, b, c])
    assert r.incident_id == again.incident_id
    (_, r_ba), _ = fold([b, a])
    assert r_ba.incident_id == r.incident_id  # same founding pair, whichever came first


def test_same_module_pair_is_an_incident_but_not_cross_module() -> None:
    second = normalise(p.raw("cspm_api", p.cspm_instance_alert(alert_id="P-9", policy_id="other",
                                                               policy_name="AWS EC2 instance not in VPC")))
    (_, r), _ = fold([exposure().model_copy(update={"enrichment": Enrichment()}), second])
    assert r.incident_id is not None and not r.cross_module


def test_risky_combination_without_two_modules() -> None:
    exp_alert = exposure()
    kev = exp_alert.model_copy(update={"alert_id": "P-7", "enrichment": Enrichment(in_kev=True), "vulnerabilities": cves().vulnerabilities})
    iam_like = exp_alert.model_copy(update={"alert_id": "P-8", "policy_type": "iam", "enrichment": Enrichment()})
    (_, _, r), _ = fold([exp_alert, kev, iam_like])
    assert r.modules == {Module.CSPM} and r.cross_module


def test_resolved_finding_leaves_and_a_lone_finding_ends_the_incident() -> None:
    (_, r2, r3), state = fold([exposure(), iam(), iam("resolved")])
    assert r2.incident_id is not None
    assert r3.incident_id is None and r3.members == ()
    assert state is not None and state.incident_id is None and len(state.findings) == 1


def test_findings_outside_the_window_expire() -> None:
    (_, r), state = fold([exposure(), iam()], step=timedelta(hours=25))
    assert r.incident_id is None
    assert state is not None and [f.alert_id for f in state.findings] == [iam().alert_id]
    (_, r_short), _ = fold([exposure(), iam()], step=timedelta(hours=2), settings=CorrelationSettings(window_hours=1))
    assert r_short.incident_id is None


def test_repoll_keeps_a_finding_in_the_window() -> None:
    a, b = exposure(), iam()
    _, state = fold([a, a, a], step=timedelta(hours=20))
    r, _ = correlate(state, b, NOW + timedelta(hours=50), timedelta(hours=24))
    assert r.incident_id is not None


def test_state_is_bounded_per_asset() -> None:
    base = exposure()
    alerts = [base.model_copy(update={"alert_id": f"P-{i}"}) for i in range(30)]
    _, state = fold(alerts, settings=CorrelationSettings(max_findings_per_asset=10))
    assert state is not None and len(state.findings) == 10
    assert state.findings[-1].alert_id == "P-29"
    assert AssetState.model_validate_json(state.model_dump_json()) == state
