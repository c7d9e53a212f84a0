"""``make demo``'s last act: one fix from alert to approval to execution, on the demo's broker.

What runs for real: the remediation-request stage and the executor stage on the worker loop,
``prismaflow approvals`` (the faust approval service, a child process, with a signing key and API
token made for this run), the planner and validator (botocore's models, python-hcl2 and Checkov when
``.venv-checkov`` is there), the sandboxed AWS executor (boto3 in a child process) against moto's
server in this process, and the signed ledger checked at the end. What is simulated: AWS (moto), Jira
and Slack (the in-process simulators), the two approvers (demo users voting through the approval
API, as the console does for a logged-in person), and Prisma Cloud's rescan after the fix (it reads
the bucket's public access block back from moto).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from connectors.aws.service_models import BotocoreServiceCatalog
from connectors.aws.settings import AwsExecutorSettings
from connectors.base import RetryPolicy
from connectors.execution import build_executor
from connectors.iac.terraform import HclTerraformChecker, TerraformCheckerSettings
from connectors.jira.client import JiraClient
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator, SimConfig, approval_workflow
from connectors.runner.settings import RunnerSettings
from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.simulator import ChatWebhookSimulator
from processors.models import ScoredAlert
from processors.records import RemediationRequest
from processors.remediation.approval import ApprovalRules
from processors.remediation.desk import Vote
from processors.remediation.families import parse_families
from processors.remediation.intake import intake
from processors.remediation.modes import parse_policy
from processors.remediation.propose import ValidationPorts
from processors.remediation.signing import SigningKey
from streams.config.audit import AuditSettings
from streams.audit import AuditWriter, verify_audit
from streams.console.links import LinkSigner
from streams.kafka_clients import KafkaClients
from streams.remediation.announce import RequestAnnouncer, TicketFollowUps
from streams.remediation.executor_stage import ExecutorStage
from streams.remediation.request_stage import RemediationRequestStage
from streams.remediation.service_desk import ServiceDesk
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.stage import Stage
from streams.static_inputs import package_dir
from streams.topic_reader import read_to_end
from streams.topics import AUDIT, CATALOGUE, DLQ, REMEDIATIONS, SCORED_ALERTS, create_topics
from streams.worker import TransactionalWorker, WorkerOptions

__all__ = ["run_remediation_demo"]

_ROOT = Path(__file__).resolve().parents[2]
_JIRA = "https://demo-jira.atlassian.net"
_PRIVATE = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _BucketRescan:
    """Prisma Cloud's next scan, simulated: the alert is resolved once its bucket blocks public access."""

    def __init__(self, s3: Any, alert_id: str, bucket: str) -> None:
        self.s3, self.alert_id, self.bucket = s3, alert_id, bucket

    async def get_alert(self, alert_id: str, *, detailed: bool = True) -> dict[str, Any]:
        try:
            block = self.s3.get_public_access_block(Bucket=self.bucket)["PublicAccessBlockConfiguration"]
        except ClientError:
            block = None
        private = alert_id == self.alert_id and block == _PRIVATE
        return {"id": alert_id, "status": "resolved" if private else "open", "reason": "RESOURCE_UPDATED" if private else ""}


def _run(kafka: KafkaSettings, serde: AvroSerde, stage: Stage[Any], group: str, prefix: str) -> None:
    try:
        TransactionalWorker(kafka, serde, stage, WorkerOptions(group_id=group, instance_id="demo",
                                                               dlq_topic=prefix + DLQ.name)).run(max_idle_s=3.0)
    finally:
        getattr(stage, "close", lambda: None)()


def _pick(candidates: list[ScoredAlert], ports: ValidationPorts) -> ScoredAlert | None:
    """The first open high-risk alert whose fix is an accepted S3 public access plan."""
    families = parse_families((package_dir("processors.remediation") / "families.yaml").read_text("utf-8"), "families")
    policy = parse_policy({"default": "assist"})
    named = [s for s in candidates if "s3" in s.alert.policy_name.lower() and "public" in s.alert.policy_name.lower()]
    for scored in sorted(named, key=lambda s: -s.score)[:5]:
        step = intake(scored, families=families, ports=ports, policy=policy, rules=ApprovalRules())
        if step.request is not None and step.request.policy_family == "s3_public_access":
            return scored
    return None


def _wait(check: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def run_remediation_demo(kafka: KafkaSettings, candidates: list[ScoredAlert], prefix: str,
                         say: Callable[[str, str], None], audit_settings: AuditSettings) -> dict[str, Any]:
    """One fix end to end (module docstring); returns a summary. ``prefix``: this act's own topic prefix;
    ``audit_settings``: the demo's signing key, for its own audit records and the approval service's."""
    started = time.monotonic()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
    create_topics(KafkaClients(kafka).admin(), CATALOGUE, prefix=prefix)
    serde = AvroSerde()  # single-object encoding, as the approval service reads it without a registry
    checkov = _ROOT / ".venv-checkov" / "bin" / "checkov"
    ports = ValidationPorts(BotocoreServiceCatalog(), HclTerraformChecker(TerraformCheckerSettings(
        checkov=str(checkov))) if checkov.exists() else None)
    scored = _pick(candidates, ports)
    if scored is None:
        say("fix", "no open S3 public-bucket alert with a valid plan in this run: nothing to fix")
        return {"fixed": False}
    scored = scored.model_copy(update={"scored_at": datetime.now(UTC)})  # the approval SLA runs from now
    alert_id, bucket = scored.alert.alert_id, scored.alert.resource.name
    moto_port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    key_id, secret_key, token = "ASIADEMO" + secrets.token_hex(6).upper(), secrets.token_hex(20), secrets.token_hex(16)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
                      aws_secret_access_key=secret_key, aws_session_token=token)
    s3.create_bucket(Bucket=bucket)
    say("fix", f"alert {alert_id}: {scored.alert.policy_name} on bucket {bucket} (moto at {endpoint})")

    signing_key, api_token, port = secrets.token_hex(24), secrets.token_hex(16), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRISMAFLOW_", "KAFKA_", "SCHEMA_REGISTRY"))}
    env.update({"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "PRISMAFLOW_WORKER_TOPIC_PREFIX": prefix,
                "PRISMAFLOW_WORKER_GROUP_PREFIX": prefix + "g", "PRISMAFLOW_REMEDIATION_SIGNING_KEY": signing_key,
                "PRISMAFLOW_AUDIT_SIGNING_KEY": audit_settings.signer().secret_text(),
                "PRISMAFLOW_REMEDIATION_API_TOKEN": api_token, "PRISMAFLOW_REMEDIATION_SERVICE_PORT": str(port),
                "PRISMAFLOW_REMEDIATION_TIMER_INTERVAL_S": "5"})
    service = subprocess.Popen([sys.executable, "-m", "streams.cli", "approvals"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    desk = ServiceDesk(f"http://127.0.0.1:{port}", api_token)
    jira_sim = JiraSimulator(config=SimConfig(base_url=_JIRA, users={"bot@example.com": "demo-token"},
                                              rate_limits=False), workflow=approval_workflow())
    chat_sim = ChatWebhookSimulator(rate_per_s=None)
    jira = JiraClient(JiraSettings(base_url=_JIRA, auth=BasicAuth(email="bot@example.com",
                                                                   api_token=SecretStr("demo-token")),
                                   project_key="SEC", retry=RetryPolicy(max_attempts=1)),
                      client=httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_sim)))
    chat = ChatWebhookClient(ChatWebhookSettings(kind=ChatKind.SLACK,
                                                 url=SecretStr(f"http://chat.sim/services/{chat_sim.slack_path}"),
                                                 retry=RetryPolicy(max_attempts=1)),
                             client=httpx.AsyncClient(transport=httpx.ASGITransport(app=chat_sim)))
    announcer = RequestAnnouncer(jira=jira, chat=chat, links=LinkSigner(secrets.token_bytes(24), 86_400),
                                 console_base_url="http://127.0.0.1:8088")
    producer = KafkaClients(kafka).producer()
    producer.produce(prefix + SCORED_ALERTS.name, key=scored.alert.resource.asset_id.encode(),
                     value=serde.encode(scored, topic=prefix + SCORED_ALERTS.name))
    producer.flush(30)
    try:
        audit = AuditWriter(f"{prefix}remediation-requests/demo", kafka, serde, topic=prefix + AUDIT.name,
                             signer=audit_settings.signer())
        audit.start()
        families = parse_families((package_dir("processors.remediation") / "families.yaml").read_text("utf-8"), "f")
        _run(kafka, serde, RemediationRequestStage(
            families=families, ports=ports, policy=parse_policy({"default": "assist"}), rules=ApprovalRules(),
            audit=audit, announcer=announcer, topic_prefix=prefix), prefix + "g.requests", prefix)
        [request] = [serde.decode(m.value() or b"", RemediationRequest, topic=prefix + REMEDIATIONS.name)
                     for m in read_to_end(kafka, prefix + REMEDIATIONS.name, purpose="demo")]
        ticket = next(iter(jira_sim.store.issues.values()))
        say("fix", f"plan validated: {', '.join(f'{a.service}.{a.operation}' for a in request.plan().actions if a.service)}"  # type: ignore[union-attr]
                   f" ({request.approval_path}); Jira {ticket.key} is {ticket.status}; Slack message posted "
                   f"with Approve/Reject buttons and a signed console link ({len(chat_sim.messages)} message)")

        def pending() -> bool:
            try:
                return desk.get(request.request_id) is not None
            except httpx.HTTPError:
                return False
        _wait(pending, "the approval service to hold the request", 120)
        for person in ("alice (demo)", "bob (demo)"):
            outcome = desk.decide(request.request_id, approver=person, vote=Vote.APPROVE,
                                  plan_digest=request.plan_digest, reason="demo approval", channel="api")
            _wait(lambda: person in (_seen(desk, request.request_id, "approvers") or ()), f"{person}'s vote")
            say("approve", f"{person} approved through the approval API: {outcome.verdict.value}")
        _wait(lambda: _seen(desk, request.request_id, "status") == "approved", "the approval outcome")
        say("approve", "the approval service published the final APPROVED outcome (2 of 2 signed approvals)")

        exec_audit = AuditWriter(f"{prefix}remediation-executor/demo", kafka, serde, topic=prefix + AUDIT.name,
                                  signer=audit_settings.signer())
        exec_audit.start()
        settings = AwsExecutorSettings(endpoint_url=endpoint, access_key_id=SecretStr(key_id),
                                       secret_access_key=SecretStr(secret_key), session_token=SecretStr(token))
        _run(kafka, serde, ExecutorStage(
            kafka=kafka, serde=serde, keys={"k1": SigningKey("k1", signing_key.encode())}, audit=exec_audit,
            executor=build_executor(settings, RunnerSettings()), prisma=_BucketRescan(s3, alert_id, bucket),
            tickets=TicketFollowUps(announcer), topic_prefix=prefix, dry_run=False), prefix + "g.executor", prefix)
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        say("execute", f"executor re-verified the approvals and ran the plan in its sandbox; read back through boto3: "
                       f"{bucket} public access block = {json.dumps(block, sort_keys=True)}")
        say("execute", f"Prisma re-check (simulated rescan): {'resolved' if ticket.status == 'Done' else 'still open'}; "
                       f"Jira {ticket.key} is now {ticket.status}")
        reports = verify_audit(kafka, serde, prefix + AUDIT.name, keyring=audit_settings.keyring())
        checked = sum(r.report.checked for r in reports)
        ok = all(r.report.ok for r in reports) and block == _PRIVATE and ticket.status == "Done"
        say("ledger", f"{checked} audit records in {len(reports)} chains verified: {'ok' if ok else 'FAILED'}; "
                      f"every step carries alert id {alert_id}")
        return {"fixed": ok, "alert_id": alert_id, "bucket": bucket, "ticket": ticket.key,
                "elapsed_s": round(time.monotonic() - started, 1)}
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
        desk.close()
        asyncio.run(_close(jira, chat))
        moto.stop()


def _seen(desk: ServiceDesk, request_id: str, field: str) -> Any:
    """One field of the request as the approval service shows it now (None while it holds none)."""
    held = desk.get(request_id)
    return getattr(held, field) if held is not None else None


async def _close(*clients: Any) -> None:
    for client in clients:
        closer = getattr(client, "aclose", None) or getattr(client, "close", None)
        if closer is not None:
            result = closer()
            if asyncio.iscoroutine(result):
                await result
