"""The parts the remediation flow tests assemble: the Jira and Slack simulators behind the announcer,
the stages on the real worker loop, and a Prisma re-check that looks at the bucket itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from botocore.exceptions import ClientError
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.jira.client import JiraClient
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator
from connectors.slack.client import ChatKind, ChatWebhookClient, ChatWebhookSettings
from connectors.slack.simulator import ChatWebhookSimulator
from streams.console.links import LinkSigner
from streams.audit import AuditWriter
from streams.remediation.announce import RequestAnnouncer
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.stage import Stage
from streams.topics import AUDIT, DLQ
from streams.worker import TransactionalWorker, WorkerOptions
from tests.audit_keys import TEST_SIGNER
from tests.streams.console.jira_site import SITE, approval_sim

CHAT = "http://chat.sim"
CONSOLE = "http://127.0.0.1:8088"
LINK_KEY = b"test-console-link-key-0001"
PRIVATE = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


@dataclass
class Channels:
    """The simulated Jira site (approval workflow) and Slack webhook, and the announcer that uses them."""

    jira_sim: JiraSimulator
    chat_sim: ChatWebhookSimulator
    jira: JiraClient
    announcer: RequestAnnouncer
    links: LinkSigner

    def ticket(self, request_id: str) -> tuple[str, str, list[Any]] | None:
        """(key, status, comments) of the request's ticket, read from the simulator's store."""
        for issue in self.jira_sim.store.issues.values():
            if f"prismaflow-req-{request_id}" in issue.fields.get("labels", []):
                return issue.key, issue.status, issue.comments
        return None


def channels() -> Channels:
    jira_sim, chat_sim = approval_sim(), ChatWebhookSimulator(rate_per_s=None)
    jira = JiraClient(JiraSettings(base_url=SITE, auth=BasicAuth(email="bot@example.com",
                                                                  api_token=SecretStr("sim-api-token")),
                                   project_key="SEC", retry=RetryPolicy(max_attempts=1)),
                      client=httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_sim)))
    chat = ChatWebhookClient(ChatWebhookSettings(kind=ChatKind.SLACK, url=SecretStr(f"{CHAT}/services/{chat_sim.slack_path}"),
                                                 retry=RetryPolicy(max_attempts=1)),
                             client=httpx.AsyncClient(transport=httpx.ASGITransport(app=chat_sim)))
    links = LinkSigner(LINK_KEY, ttl_s=86_400)
    return Channels(jira_sim, chat_sim, jira, RequestAnnouncer(jira=jira, chat=chat, links=links,
                                                               console_base_url=CONSOLE), links)


class BucketScan:
    """Prisma Cloud's re-check for the test's public-bucket alerts: the alert is resolved when the
    bucket (read through boto3 on moto) blocks public access — what the next scan would find."""

    def __init__(self, s3: Any, buckets: dict[str, str]) -> None:
        self.s3, self.buckets = s3, buckets  # alert id -> bucket

    async def get_alert(self, alert_id: str, *, detailed: bool = True) -> dict[str, Any]:
        try:
            block = self.s3.get_public_access_block(Bucket=self.buckets[alert_id])["PublicAccessBlockConfiguration"]
        except ClientError:
            block = None
        private = block == PRIVATE
        return {"id": alert_id, "status": "resolved" if private else "open",
                "reason": "RESOURCE_UPDATED" if private else ""}


def signed_audit_writer(kafka: KafkaSettings, serde: AvroSerde, catalogue: str, stage: str) -> AuditWriter:
    """A started audit writer of ``stage``'s chain (``<catalogue><stage>/0``) on the catalogue's audit
    topic, signing with the tests' key."""
    writer = AuditWriter(f"{catalogue}{stage}/0", kafka, serde, topic=catalogue + AUDIT.name, signer=TEST_SIGNER)
    writer.start()
    return writer


def run_stage(kafka: KafkaSettings, serde: AvroSerde, stage: Stage[Any], *, group: str, catalogue: str,
              max_idle_s: float = 4.0) -> None:
    """Run ``stage`` on the real worker loop until its input has been idle for ``max_idle_s``."""
    worker = TransactionalWorker(kafka, serde, stage, WorkerOptions(group_id=group, instance_id="t0",
                                                                    dlq_topic=catalogue + DLQ.name))
    try:
        worker.run(max_idle_s=max_idle_s)
    finally:
        getattr(stage, "close", lambda: None)()
