"""One approved plan end to end: a public bucket behind a Prisma alert, executed against moto, re-checked
through the Prisma Cloud API (the simulator), the ticket follow-up decided, the ledger entries verified."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.execution import build_executor, execute_and_recheck
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.settings import PrismaSettings
from connectors.prisma.simulator import PrismaCloudSimulator, SimClock
from connectors.runner.settings import RunnerSettings
from processors.audit import AuditChain, verify_chain
from processors.remediation.execution import ActionStatus, ExecutionRequest
from processors.remediation.followup import RecheckStatus, append_entry
from tests.connectors.aws.conftest import executor_settings
from tests.processors.remediation.plan_factory import aws_action, make_plan

API = "https://api.prismacloud.io"
PRIVATE = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


@pytest.fixture
async def cspm(http: httpx.AsyncClient, clock: SimClock) -> AsyncIterator[CspmClient]:
    settings = PrismaSettings(api_url=API, username="sim-access-key", password=SecretStr("sim-secret-key"),
                              retry=RetryPolicy(max_attempts=2, base_delay_s=0.1, max_delay_s=1))
    async with CspmClient(settings, client=http, clock=clock.now, sleep=clock.sleep, rng=lambda: 1.0) as client:
        yield client


def _blocked(s3: Any, bucket: str) -> dict[str, Any] | None:
    try:
        config: dict[str, Any] = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        return None
    return config


async def test_a_public_bucket_alert_is_fixed_rechecked_and_audited(
        moto_url: str, aws: Any, name: str, sim: PrismaCloudSimulator, http: httpx.AsyncClient,
        cspm: CspmClient) -> None:
    alert_id = next(i for i, a in sorted(sim.alerts.items()) if a["status"] == "open")
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    s3.delete_public_access_block(Bucket=name)
    plan = make_plan(aws_action("s3", "PutPublicAccessBlock", name,
                                {"Bucket": name, "PublicAccessBlockConfiguration": PRIVATE}), alert_id=alert_id)
    executor = build_executor(executor_settings(moto_url), RunnerSettings())
    chain = AuditChain("executor", clock=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    waits: list[float] = []

    async def rescan_while_waiting(seconds: float) -> None:
        waits.append(seconds)  # Prisma Cloud's next scan finds the bucket private while the re-check waits
        await http.post(f"{API}/_sim/alerts/{alert_id}/status", json={"status": "resolved"})

    dry = await execute_and_recheck(ExecutionRequest(plan=plan), executor, cspm)
    assert dry.result.outcomes[0].status is ActionStatus.DRY_RUN and dry.recheck is None
    assert _blocked(s3, name) is None and not dry.follow_up.resolve

    real = await execute_and_recheck(ExecutionRequest(plan=plan, dry_run=False), executor, cspm,
                                     recheck_attempts=3, recheck_interval_s=60.0, sleep=rescan_while_waiting)

    assert _blocked(s3, name) == PRIVATE  # read back through boto3
    assert real.recheck is not None and real.recheck.status is RecheckStatus.RESOLVED and waits == [60.0]
    assert real.follow_up.resolve and "confirmed" in real.follow_up.comment
    records = [append_entry(chain, entry) for entry in (*dry.audit_entries, *real.audit_entries)]
    assert verify_chain(records).ok
    assert [r.action for r in records] == ["remediation_dry_run", "remediation_executed", "remediation_rechecked"]
    assert {r.alert_id for r in records} == {alert_id}
    executed = json.loads(records[1].details_json)
    assert executed["plan_digest"] == plan.digest() and executed["plan"]["resource_id"] == name
    assert executed["actions"][0]["output"]["state_after"] == {"PublicAccessBlockConfiguration": PRIVATE}


async def test_a_failed_fix_is_not_rechecked_and_leaves_the_ticket_open(
        moto_url: str, name: str, cspm: CspmClient, sim: PrismaCloudSimulator) -> None:
    alert_id = next(iter(sorted(sim.alerts)))
    plan = make_plan(aws_action("s3", "PutPublicAccessBlock", name,
                                {"Bucket": name, "PublicAccessBlockConfiguration": PRIVATE}), alert_id=alert_id)
    report = await execute_and_recheck(ExecutionRequest(plan=plan, dry_run=False),
                                       build_executor(executor_settings(moto_url), RunnerSettings()), cspm)
    assert report.result.outcomes[0].error_class == "NoSuchBucket"
    assert report.recheck is None and not report.follow_up.resolve
    assert "NoSuchBucket" in report.follow_up.comment
    assert [entry.outcome for entry in report.audit_entries] == ["failed"]
