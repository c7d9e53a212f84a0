"""Issue 13's acceptance, end to end on the local broker: a public-bucket alert → plan validated →
Slack message and Jira ticket Pending Approval → approved in the browser (the console in a real
headless Chromium, over the approval service's API) by two users → executed against moto → the
bucket is private (read back through boto3) → ticket resolved → ledger verified, every step linked
to the alert id. Plus: in monitor mode no ticket is created, nothing runs, and the shadow report
lists what assist would have requested.

The real parts: the broker, ``prismaflow approvals`` (faust, a child process), the request and
executor stages on the worker loop, the console served by uvicorn, Chromium, moto's server, the Jira
and Slack simulators. The Prisma Cloud re-check reads the bucket's state (see ``BucketScan``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from connectors.execution import build_executor
from connectors.runner.settings import RunnerSettings
from processors.records import AuditRecord, RemediationRequest
from processors.remediation.modes import parse_policy
from processors.remediation.signing import SigningKey
from streams.audit import verify_audit
from streams.console.app import build_console_app
from streams.console.links import LinkSigner
from streams.embedded import ServedApp
from streams.remediation.announce import TicketFollowUps
from streams.remediation.executor_stage import ExecutorStage
from streams.remediation.service_desk import ServiceDesk
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, REMEDIATIONS, SCORED_ALERTS
from tests.audit_keys import TEST_KEYRING
from tests.connectors.aws.conftest import aws, executor_settings, moto_url, name  # noqa: F401 - shared fixtures
from tests.kafka_helpers import produce_models, read_topic
from tests.processors.remediation.conftest import family_alert
from tests.streams.console.desk_factory import user_store
from tests.streams.console.test_console_browser import ARTIFACTS, Browser, chromium  # noqa: F401
from tests.streams.remediation.flow_parts import LINK_KEY, PRIVATE, BucketScan, channels, run_stage, signed_audit_writer
from tests.streams.remediation.test_approval_service import SECRET, TOKEN, Service, running_service

pytestmark = [pytest.mark.broker, pytest.mark.slow]

KEYS = {"k1": SigningKey("k1", SECRET.encode())}


@pytest.fixture
def approvals(kafka: KafkaSettings, catalogue: str, unique_name: Callable[[str], str],
              tmp_path: Path) -> Iterator[Service]:
    """``prismaflow approvals`` on this test's topics."""
    with running_service(kafka, catalogue, unique_name("grp"), tmp_path) as service:
        yield service


def _decide(browser: Browser, request_id: str, reason: str) -> str:
    """Approve on the request's page and wait for the page the vote leads to (the console asks the
    approval service, which takes a moment): its flash message."""
    browser.open(f"/requests/{request_id}")
    browser.driver.find_element(By.ID, "reason").send_keys(reason)
    browser.shot(f"approve-{request_id}")
    browser.driver.find_element(By.ID, "approve").click()
    message = WebDriverWait(browser.driver, 30).until(expected_conditions.presence_of_element_located((By.ID, "message")))
    browser.shot(f"after-approve-{request_id}")
    return str(message.text)


def _audit(kafka: KafkaSettings, serde: AvroSerde, catalogue: str) -> list[AuditRecord]:
    return [serde.decode(m.value() or b"", AuditRecord, topic=catalogue + AUDIT.name)
            for m in read_topic(kafka, catalogue + AUDIT.name, settle_s=1, timeout_s=30)]


def test_a_public_bucket_is_fixed_after_two_approvals_in_the_browser(
        request: pytest.FixtureRequest, kafka: KafkaSettings, serde: AvroSerde, catalogue: str,
        unique_name: Callable[[str], str], run_request_stage: Callable[..., None],
        moto_url: str, aws: Any, name: str, approvals: Service,  # noqa: F811
        chromium: WebDriver) -> None:  # noqa: F811
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    alert_id = f"P-{name}"
    scored = family_alert("s3_public_access", alert_id=alert_id, resource_id=name, config={"bucketName": name})
    scored = scored.model_copy(update={"scored_at": datetime.now(UTC)})
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(scored.alert.resource.asset_id, scored)])

    # The request stage: plan validated, request published, ticket Pending Approval, Slack message.
    parts = channels()
    run_request_stage(parse_policy(yaml.safe_load("default: assist")), announcer=parts.announcer)
    [message] = read_topic(kafka, catalogue + REMEDIATIONS.name, expect=1)
    remediation = serde.decode(message.value() or b"", RemediationRequest, topic=catalogue + REMEDIATIONS.name)
    assert remediation.alert_id == alert_id and remediation.required_approvals == 2
    ticket = parts.ticket(remediation.request_id)
    assert ticket is not None and ticket[1] == "Pending Approval"
    [chat] = parts.chat_sim.messages
    link = next(e["url"] for b in chat["body"]["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "prismaflow_open_console")
    approvals.wait_for(remediation.request_id, "pending")

    # Two approvers in the console (real Chromium), over the approval service's API.
    desk = ServiceDesk(f"http://127.0.0.1:{approvals.port}", TOKEN)
    console = ServedApp(build_console_app(desk, user_store(),
                                          session_secret="e2e-session-key-0123456789",
                                          links=LinkSigner(LINK_KEY, 86_400), secure_cookies=False))
    shots = ARTIFACTS / re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    try:
        browser = Browser(chromium, console.url, shots)
        browser.log_in("alice")
        browser.open(link.removeprefix("http://127.0.0.1:8088"))  # the signed one-click link from Slack
        assert remediation.request_id in chromium.current_url
        assert "Recorded" in _decide(browser, remediation.request_id, "bucket must be private")
        approvals.wait_for(remediation.request_id, "pending", approvals=1)
        browser.log_in("bob")
        assert "Recorded" in _decide(browser, remediation.request_id, "agreed")
        approvals.wait_for(remediation.request_id, "approved")
    finally:
        console.stop()
        desk.close()

    # The executor: re-verifies the outcome, runs against moto, re-checks, resolves the ticket.
    run_stage(kafka, serde, ExecutorStage(
        kafka=kafka, serde=serde, keys=KEYS, audit=signed_audit_writer(kafka, serde, catalogue, "remediation-executor"),
        executor=build_executor(executor_settings(moto_url), RunnerSettings()),
        prisma=BucketScan(s3, {alert_id: name}), tickets=TicketFollowUps(parts.announcer), topic_prefix=catalogue,
        dry_run=False),
        group=unique_name("exec"), catalogue=catalogue)

    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == PRIVATE
    ticket = parts.ticket(remediation.request_id)
    assert ticket is not None and ticket[1] == "Done"
    records = _audit(kafka, serde, catalogue)
    steps = [r.action for r in records if r.alert_id == alert_id]
    for step in ("remediation_planned", "remediation_request_created", "remediation_announced",
                 "remediation_requested", "remediation_approved", "remediation_run", "remediation_executed",
                 "remediation_rechecked", "remediation_ticket_followed_up"):
        assert step in steps, (step, steps)
    [run] = [r for r in records if r.action == "remediation_run"]
    assert json.loads(run.details_json)["approvers"] == ["alice", "bob"]
    reports = verify_audit(kafka, serde, catalogue + AUDIT.name, keyring=TEST_KEYRING)
    assert reports and all(report.report.ok for report in reports)


def test_monitor_mode_creates_no_ticket_runs_nothing_and_the_shadow_report_lists_what_would_have(
        kafka: KafkaSettings, serde: AvroSerde, catalogue: str, run_request_stage: Callable[..., None],
        tmp_path: Path) -> None:
    alerts = [family_alert("s3_public_access", alert_id=f"P-shadow-{i}", resource_id=f"shadow-bucket-{i}",
                           config={"bucketName": f"shadow-bucket-{i}"}) for i in range(2)]
    produce_models(kafka, serde, catalogue + SCORED_ALERTS.name, [(a.alert.resource.asset_id, a) for a in alerts])
    parts = channels()
    policy_file = tmp_path / "rollout.yaml"
    policy_file.write_text("default: monitor\n", encoding="utf-8")
    run_request_stage(parse_policy(yaml.safe_load(policy_file.read_text())), announcer=parts.announcer)
    assert not parts.jira_sim.store.issues and not parts.chat_sim.messages

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMAFLOW_", "KAFKA_"))}
    env.update({"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "PRISMAFLOW_HOME": str(tmp_path / "home"),
                "PRISMAFLOW_WORKER_TOPIC_PREFIX": catalogue,
                "PRISMAFLOW_REMEDIATION_ROLLOUT_POLICY_FILE": str(policy_file)})
    shown = subprocess.run([sys.executable, "-m", "streams.cli", "report", "shadow", "--json"], env=env,
                           capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(shown.stdout)
    assert report["configured"]["tickets"] == 0 and report["configured"]["approval_requests"] == 0
    assert report["configured"]["auto_runs"] == 0
    assert report["looser"]["approval_requests"] == 2  # assist would have asked for both fixes
    assert sorted(report["looser"]["examples"]["approval_requests"]) == ["P-shadow-0", "P-shadow-1"]
