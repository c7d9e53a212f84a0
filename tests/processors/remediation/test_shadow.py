"""The shadow report counts what each mode did or would have done, per alert, with examples."""

from __future__ import annotations

from processors.models import AlertStatus, Cloud, Environment, RiskTier, ScoredAlert
from processors.remediation.modes import parse_policy
from processors.remediation.plan import ActionKind, ChangeRisk, PlannedAction, RemediationPlan
from processors.remediation.shadow import shadow_report
from tests.factories import make_alert, make_enrichment, make_scored_alert

MONITOR_EVERYWHERE = parse_policy({"default": "monitor", "auto_allowlist": ["s3_public_access"]})


def _scored(alert_id: str, environment: Environment = Environment.DEV, tier: RiskTier = RiskTier.CRITICAL,
            status: AlertStatus = AlertStatus.OPEN) -> ScoredAlert:
    alert = make_alert(alert_id=alert_id, status=status, enrichment=make_enrichment(environment=environment))
    return make_scored_alert(alert=alert, tier=tier)


def _plan(alert_id: str, environment: Environment = Environment.DEV) -> RemediationPlan:
    return RemediationPlan(
        plan_id=f"plan-{alert_id}", alert_id=alert_id, asset_id=f"asset-{alert_id}", policy_family="s3_public_access",
        cloud=Cloud.AWS, resource_id=f"bucket-{alert_id}", environment=environment, change_risk=ChangeRisk.LOW,
        actions=(PlannedAction(kind=ActionKind.AWS_API, target_resource=f"bucket-{alert_id}", service="s3",
                               operation="PutPublicAccessBlock", parameters={"Bucket": f"bucket-{alert_id}"}),))


def test_in_monitor_mode_nothing_happens_and_the_looser_mode_lists_what_would_have() -> None:
    scored = [_scored("P-1"), _scored("P-2", Environment.PROD), _scored("P-3", tier=RiskTier.LOW),
              _scored("P-4", status=AlertStatus.RESOLVED), _scored("P-1")]  # P-1 twice: counted once
    plans = {"P-1": _plan("P-1"), "P-2": _plan("P-2", Environment.PROD)}
    report = shadow_report(scored, plans, MONITOR_EVERYWHERE)
    configured, stricter, looser = report["configured"], report["stricter"], report["looser"]
    assert configured.alerts == 4
    assert (configured.tickets, configured.approval_requests, configured.auto_runs) == (0, 0, 0)
    assert (stricter.tickets, stricter.approval_requests) == (0, 0)  # nothing is stricter than monitor
    # assist would have opened tickets for the two open critical risks and asked approval for both plans.
    assert (looser.tickets, looser.approval_requests, looser.auto_runs) == (2, 2, 0)
    assert looser.examples["tickets"] == ["P-1", "P-2"]


def test_from_assist_the_looser_auto_mode_would_run_the_allowlisted_non_production_fix() -> None:
    policy = parse_policy({"default": "assist", "auto_allowlist": ["s3_public_access"]})
    scored = [_scored("P-1"), _scored("P-2", Environment.PROD)]
    plans = {"P-1": _plan("P-1"), "P-2": _plan("P-2", Environment.PROD)}
    report = shadow_report(scored, plans, policy)
    assert (report["configured"].approval_requests, report["configured"].auto_runs) == (2, 0)
    assert (report["looser"].approval_requests, report["looser"].auto_runs) == (1, 1)
    assert report["looser"].examples["auto_runs"] == ["P-1"]
    assert report["stricter"].tickets == 0
