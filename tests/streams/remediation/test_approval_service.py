"""The approval service on the real broker: a request comes in, two people approve it through the
web API, the APPROVED outcome is published for the executor; restarted, the service recovers its
pending table from the changelog and goes on counting. An unanswered request is escalated to its
chat channel (the Slack simulator, served over HTTP; a failed post is retried on the next tick),
then expires and never runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from processors.models import Cloud, Environment
from processors.records import Decision, RemediationDecision, RolloutMode
from processors.remediation.approval import ApprovalRules, may_run_outcome, new_request
from processors.remediation.plan import ActionKind, ChangeRisk, PlannedAction, RemediationPlan
from connectors.slack.simulator import ChatWebhookSimulator
from processors.remediation.signing import SigningKey
from streams.embedded import ServedApp
from tests.audit_keys import TEST_SIGNER
from streams.remediation.approval_service import librdkafka_partition
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import REMEDIATION_DECISIONS, REMEDIATIONS
from tests.kafka_helpers import produce_models, read_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SECRET = "test-approval-signing-key-0001"
TOKEN = "test-approval-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEYS = {"k1": SigningKey("k1", SECRET.encode())}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _iam_plan(role: str) -> RemediationPlan:
    return RemediationPlan(
        plan_id=f"plan-{role}", alert_id=f"P-{role}", asset_id=f"aws:123456789012:global:iam-role:{role}",
        policy_family="iam_policy_attachment", cloud=Cloud.AWS, account_id="123456789012", resource_id=role,
        environment=Environment.PROD, touches_iam=True, change_risk=ChangeRisk.HIGH,
        actions=(PlannedAction(kind=ActionKind.AWS_API, target_resource=role, service="iam",
                               operation="DetachRolePolicy",
                               parameters={"RoleName": role, "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),))


class Service:
    """``prismaflow approvals`` as a child process, and its web API."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "streams.cli", "approvals"], env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def wait_for(self, request_id: str, status: str, approvals: int | None = None,
                 timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        seen: Any = None
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                response = self.http.get(f"/remediations/{request_id}", headers=AUTH)
                seen = response.json() if response.status_code == 200 else response.status_code
            except httpx.HTTPError as exc:
                seen = repr(exc)
            if isinstance(seen, dict) and seen["status"] == status and (
                    approvals is None or len(seen["approvals"]) == approvals):
                return seen
            time.sleep(0.5)
        raise AssertionError(f"{request_id} never {status}; last seen {seen}\n{self.log.read_text()[-3000:]}")

    def approve(self, request_id: str, approver: str, **extra: Any) -> httpx.Response:
        return self.http.post(f"/remediations/{request_id}/decisions", headers=AUTH,
                              json={"approver": approver, "decision": "approved", "reason": "change window",
                                    **extra})


@pytest.fixture
def chat() -> Iterator[tuple[ChatWebhookSimulator, ServedApp]]:
    """The Slack webhook simulator, served on a local port for the service's child process."""
    simulator = ChatWebhookSimulator(rate_per_s=None)
    served = ServedApp(simulator)
    yield simulator, served
    served.stop()


@contextmanager
def running_service(kafka: KafkaSettings, catalogue: str, group_prefix: str, tmp_path: Path,
                    chat_webhook_url: str | None = None) -> Iterator[Service]:
    """``prismaflow approvals`` started on the catalogue's topics with the tests' keys, stopped on exit;
    escalations go to ``chat_webhook_url`` when given."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMAFLOW_", "KAFKA_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "PRISMAFLOW_HOME": str(tmp_path / "home"),
        "PRISMAFLOW_WORKER_TOPIC_PREFIX": catalogue, "PRISMAFLOW_WORKER_GROUP_PREFIX": group_prefix,
        "PRISMAFLOW_REMEDIATION_SIGNING_KEY": SECRET, "PRISMAFLOW_REMEDIATION_API_TOKEN": TOKEN,
        "PRISMAFLOW_REMEDIATION_SERVICE_PORT": str(port), "PRISMAFLOW_REMEDIATION_TIMER_INTERVAL_S": "1",
        "PRISMAFLOW_AUDIT_SIGNING_KEY": TEST_SIGNER.secret_text(),  # its audit records are signed
        "PRISMAFLOW_CONSOLE_BASE_URL": "https://console.example.com",
    })
    if chat_webhook_url is not None:
        env["PRISMAFLOW_CHAT_WEBHOOK_URL"] = chat_webhook_url
    running = Service(env, port, tmp_path / "approvals.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()
        running.http.close()


@pytest.fixture
def service(kafka: KafkaSettings, catalogue: str, unique_name: Any, tmp_path: Path,
            chat: tuple[ChatWebhookSimulator, ServedApp]) -> Iterator[Service]:
    with running_service(kafka, catalogue, unique_name("grp"), tmp_path,
                         f"{chat[1].url}/services/{chat[0].slack_path}") as running:
        yield running


def test_two_approvals_through_the_web_api_publish_the_outcome_and_a_restart_recovers_the_table(
        service: Service, kafka: KafkaSettings, serde: AvroSerde, catalogue: str) -> None:
    now = datetime.now(UTC)
    rules = ApprovalRules()
    first = new_request(_iam_plan("ci-deployer"), mode=RolloutMode.ASSIST, requested_at=now, rules=rules)
    second = new_request(_iam_plan("etl-runner"), mode=RolloutMode.ASSIST, requested_at=now, rules=rules)
    requests_topic = catalogue + REMEDIATIONS.name
    produce_models(kafka, serde, requests_topic, [(first.request_id, first), (second.request_id, second)])

    shown = service.wait_for(first.request_id, "pending")
    assert shown["required_approvals"] == 2 and shown["plan_digest"] == first.plan_digest
    pending = service.http.get("/remediations/pending", headers=AUTH).json()["pending"]
    for path in ("/remediations/pending", f"/remediations/{first.request_id}", "/remediations/history"):
        assert service.http.get(path).status_code == 401, f"{path} answered without the token"
    assert {p["request_id"] for p in pending} == {first.request_id, second.request_id}

    assert service.approve(first.request_id, "alice@example.com").status_code == 202
    service.wait_for(first.request_id, "pending", approvals=1)
    assert service.approve(first.request_id, "alice@example.com").status_code == 202  # same person again
    assert service.approve(first.request_id, "bob@example.com", plan_digest="0" * 64).status_code == 409
    unauthorised = service.http.post(f"/remediations/{first.request_id}/decisions",
                                     json={"approver": "mallory@example.com", "decision": "approved"})
    assert unauthorised.status_code == 401
    time.sleep(2)
    assert service.wait_for(first.request_id, "pending")["approvals"] == ["alice@example.com"]
    assert service.approve(first.request_id, "bob@example.com", plan_digest=first.plan_digest).status_code == 202
    service.wait_for(first.request_id, "approved")

    decisions = [serde.decode(m.value(), RemediationDecision, topic=catalogue + REMEDIATION_DECISIONS.name)
                 for m in read_topic(kafka, catalogue + REMEDIATION_DECISIONS.name, committed=False, settle_s=2)]
    outcomes = [d for d in decisions if d.final and d.request_id == first.request_id]
    assert len(outcomes) == 1 and outcomes[0].decision is Decision.APPROVED
    assert [a.approver for a in outcomes[0].approvals] == ["alice@example.com", "bob@example.com"]
    assert may_run_outcome(first, outcomes[0], KEYS, datetime.now(UTC)).allowed
    # The votes are on the same decision log, signed and bound to the plan digest.
    votes = [d for d in decisions if not d.final and d.request_id == first.request_id]
    assert {v.approver for v in votes} == {"alice@example.com", "bob@example.com"}
    assert all(v.plan_digest == first.plan_digest and v.signature for v in votes)

    # The second request gets one approval, then the service restarts.
    assert service.approve(second.request_id, "carol@example.com").status_code == 202
    service.wait_for(second.request_id, "pending", approvals=1)
    service.stop()
    service.start()
    assert service.wait_for(first.request_id, "approved")["approvals"] == ["alice@example.com", "bob@example.com"]
    assert service.wait_for(second.request_id, "pending")["approvals"] == ["carol@example.com"]
    assert service.approve(second.request_id, "dave@example.com").status_code == 202
    service.wait_for(second.request_id, "approved")

    # Records about one request share a partition whoever wrote them (librdkafka's CRC-32 partitioner).
    for message in read_topic(kafka, requests_topic, expect=2, settle_s=1):
        assert message.partition() == librdkafka_partition(message.key(), REMEDIATIONS.partitions)
    assert (datetime.now(UTC) - now) < timedelta(minutes=10)


def test_an_unanswered_request_is_escalated_to_its_chat_channel_then_expires_and_can_no_longer_be_approved(
        service: Service, chat: tuple[ChatWebhookSimulator, ServedApp], kafka: KafkaSettings, serde: AvroSerde,
        catalogue: str) -> None:
    from processors.records import AuditRecord
    from streams.topics import AUDIT

    simulator, served = chat
    # The first escalation post fails (Slack answers 500 to all four tries of the client's retry policy):
    # the service tries again on the next tick.
    assert httpx.post(f"{served.url}/_sim/faults", json={"target": "slack", "status": 500, "count": 4}).status_code == 200
    # A short SLA in the request itself (the planner sets it from PRISMAFLOW_REMEDIATION_SLA_HOURS and
    # ..._ESCALATE_AFTER_HOURS): the service's clock passes the escalation time 8 s in, the deadline at 30 s.
    rules = ApprovalRules(sla_hours=30 / 3600, escalate_after_hours=8 / 3600, escalation_channel="#sec-oncall")
    request = new_request(_iam_plan("backup-admin"), mode=RolloutMode.ASSIST, requested_at=datetime.now(UTC),
                          rules=rules)
    produce_models(kafka, serde, catalogue + REMEDIATIONS.name, [(request.request_id, request)])
    service.wait_for(request.request_id, "pending")
    assert service.approve(request.request_id, "alice@example.com").status_code == 202  # one of the two needed
    assert not service.wait_for(request.request_id, "pending", approvals=1)["escalated"]
    service.wait_for(request.request_id, "expired", timeout_s=90)
    assert service.approve(request.request_id, "bob@example.com").status_code == 409

    # Exactly one escalation reached Slack, in the configured channel, after one failed tick.
    [message] = [m["body"] for m in simulator.messages]
    assert message["channel"] == "#sec-oncall"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1]
              for b in message["blocks"] if b["type"] == "section" for f in b.get("fields", [])}
    assert fields["*Request*"] == request.request_id and fields["*Alert*"] == "P-backup-admin"
    assert fields["*Resource*"] == "backup-admin" and fields["*Approvals*"] == "1 of 2"
    assert "high" in fields["*Risk*"] and "IAM" in fields["*Risk*"] and fields["*Expires in*"] != "expired"
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert button["url"] == f"https://console.example.com/requests/{request.request_id}"
    assert simulator.stats.status_counts()["POST /services"] == {"500": 4, "200": 1}

    topic = catalogue + REMEDIATION_DECISIONS.name
    outcomes = [d for d in (serde.decode(m.value(), RemediationDecision, topic=topic)
                            for m in read_topic(kafka, topic, committed=False, settle_s=2)) if d.final]
    assert [(o.request_id, o.decision) for o in outcomes] == [(request.request_id, Decision.EXPIRED)]
    assert not may_run_outcome(request, outcomes[0], KEYS, datetime.now(UTC)).allowed
    audit_topic = catalogue + AUDIT.name
    actions = [(r.action, json.loads(r.details_json).get("channel"))
               for r in (serde.decode(m.value(), AuditRecord, topic=audit_topic)
                         for m in read_topic(kafka, audit_topic, committed=False, settle_s=2))
               if json.loads(r.details_json).get("request_id") == request.request_id]
    assert actions == [("remediation_requested", None), ("remediation_escalated", "#sec-oncall"),
                       ("remediation_expired", None)]
