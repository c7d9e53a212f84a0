"""Auto mode end to end on the local broker: with a rollout policy that puts both ``dev`` and ``prod`` in
``auto`` and allowlists ``s3_public_access``, the dev bucket's public-access fix is validated, approved by
nobody (the approval service opens it APPROVED) and run against moto — the bucket reads back private —
with the auto-run records on the ledger under the alert id; the same alert in production still needs
its two approvers: it is announced, stays pending and never runs.

The real parts: the broker, ``prismaflow approvals`` (faust, a child process), the request and executor
stages on the worker loop, moto's server, the Jira and Slack simulators.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from connectors.execution import build_executor
from connectors.runner.settings import RunnerSettings
from processors.models import Environment, ScoredAlert
from processors.records import AuditRecord, RemediationRequest, RolloutMode
from processors.remediation.modes import parse_policy
from streams.audit import verify_audit
from streams.remediation.announce import TicketFollowUps
from streams.remediation.executor_stage import ExecutorStage
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, REMEDIATIONS, SCORED_ALERTS
from tests.audit_keys import TEST_KEYRING
from tests.connectors.aws.conftest import aws, executor_settings, moto_url, name  # noqa: F401 - shared fixtures
from tests.kafka_helpers import produce_models, read_topic
from tests.processors.remediation.conftest import family_alert
from tests.streams.remediation.flow_parts import PRIVATE, BucketScan, channels, run_stage, signed_audit_writer
from tests.streams.remediation.test_approval_service import Service
from tests.streams.remediation.test_remediation_end_to_end import KEYS, approvals  # noqa: F401 - shared fixture

pytestmark = [pytest.mark.broker, pytest.mark.slow]

AUTO_EVERYWHERE = parse_policy(yaml.safe_load("""
default: assist
rules:
  - environment: dev
    mode: auto
  - environment: prod
    mode: auto
auto_allowlist: [s3_public_access]
"""))


def _bucket_alert(bucket: str, environment: Environment) -> ScoredAlert:
    scored = family_alert("s3_public_access", alert_id=f"P-{bucket}", resource_id=bucket, config={"bucketName": bucket},
                          environment=environment)
    return scored.model_copy(update={"scored_at": datetime.now(UTC)})


def test_auto_mode_runs_the_allowlisted_dev_fix_without_approval_and_the_production_one_still_waits(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, unique_name: Callable[[str], str],
        run_request_stage: Callable[..., None], moto_url: str, aws: Any, name: str, approvals: Service) -> None:  # noqa: F811
    s3 = aws("s3")
    dev, prod = name, name + "-prod"
    for bucket in (dev, prod):
        s3.create_bucket(Bucket=bucket)
    alerts = [_bucket_alert(dev, Environment.DEV), _bucket_alert(prod, Environment.PROD)]
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(a.alert.resource.asset_id, a) for a in alerts])

    parts = channels()
    run_request_stage(AUTO_EVERYWHERE, announcer=parts.announcer)
    requests = {r.alert_id: r for r in (serde.decode(m.value() or b"", RemediationRequest,
                                                     topic=catalogue + REMEDIATIONS.name)
                                        for m in read_topic(kafka, catalogue + REMEDIATIONS.name, expect=2))}
    auto, waits = requests[f"P-{dev}"], requests[f"P-{prod}"]
    assert auto.mode is RolloutMode.AUTO and auto.required_approvals == 0 and auto.approval_path.startswith("none")
    assert waits.mode is RolloutMode.AUTO and waits.required_approvals == 2
    # Only the production request asks people: its ticket is Pending Approval and Slack got its message.
    assert parts.ticket(auto.request_id) is None
    waiting_ticket = parts.ticket(waits.request_id)
    assert waiting_ticket is not None and waiting_ticket[1] == "Pending Approval"
    assert [waits.request_id in json.dumps(m["body"]) for m in parts.chat_sim.messages] == [True]

    # The approval service approves the auto fix on arrival; the production fix waits for its approvers.
    assert approvals.wait_for(auto.request_id, "approved")["approvals"] == []
    assert approvals.wait_for(waits.request_id, "pending")["required_approvals"] == 2

    run_stage(kafka, serde, ExecutorStage(
        kafka=kafka, serde=serde, keys=KEYS, audit=signed_audit_writer(kafka, serde, catalogue, "remediation-executor"),
        executor=build_executor(executor_settings(moto_url), RunnerSettings()),
        prisma=BucketScan(s3, {auto.alert_id: dev, waits.alert_id: prod}), tickets=TicketFollowUps(parts.announcer),
        topic_prefix=catalogue, dry_run=False), group=unique_name("exec"), catalogue=catalogue)

    assert s3.get_public_access_block(Bucket=dev)["PublicAccessBlockConfiguration"] == PRIVATE  # read back
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_public_access_block(Bucket=prod)  # production: nothing ran without its two approvals
    assert approvals.wait_for(waits.request_id, "pending")["approvals"] == []

    records = [serde.decode(m.value() or b"", AuditRecord, topic=catalogue + AUDIT.name)
               for m in read_topic(kafka, catalogue + AUDIT.name, settle_s=1, timeout_s=30)]

    def details(alert_id: str, action: str) -> list[dict[str, Any]]:
        return [json.loads(r.details_json) for r in records if r.alert_id == alert_id and r.action == action]

    [mode] = details(auto.alert_id, "remediation_mode")
    assert mode["mode"] == "auto" and mode["reason"]
    [approved] = details(auto.alert_id, "remediation_approved")
    assert approved["approvers"] == [] and approved["reason"] == "allowlisted auto fix: no approval required"
    [run] = details(auto.alert_id, "remediation_run")
    assert run["approvers"] == [] and run["request_id"] == auto.request_id and run["dry_run"] is False
    assert details(auto.alert_id, "remediation_executed") and details(auto.alert_id, "remediation_rechecked")
    [prod_mode] = details(waits.alert_id, "remediation_mode")
    assert prod_mode["mode"] == "auto" and prod_mode["action"] == "request_approval"
    assert not details(waits.alert_id, "remediation_run") and not details(waits.alert_id, "remediation_approved")
    reports = verify_audit(kafka, serde, catalogue + AUDIT.name, keyring=TEST_KEYRING)
    assert reports and all(report.report.ok for report in reports)
