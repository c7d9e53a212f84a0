"""``prismaflow approvals``: build the approval service from the settings tree and run it until stopped;
``prismaflow run remediate|execute``: the remediation stages on the worker loop."""

from __future__ import annotations

import logging

import faust

from connectors.slack.client import ChatWebhookClient
from processors.errors import ConfigurationError
from streams.audit import AuditWriter
from streams.compose import build_serde
from streams.config import PrismaflowSettings
from streams.kafka_clients import KafkaClients
from streams.console.serve import link_signer
from streams.remediation.approval_service import ApprovalService
from streams.remediation.escalation import ChatEscalation
from streams.process import run_until_signalled
from streams.remediation.policy import audit_policy_change, load_rollout_policy
from streams.remediation.workers import build_remediation_worker
from streams.run import serve_worker_health
from streams.serde import AvroSerde
from streams.settings import default_home
from streams.topics import AUDIT, create_topics

__all__ = ["app_id", "build_service", "run_approval_service", "run_remediation_stage"]


def app_id(settings: PrismaflowSettings) -> str:
    """The faust app id: the consumer group and the prefix of the table's changelog topic."""
    return f"{settings.worker.group_prefix}.{settings.worker.topic_prefix}approvals"


def build_service(settings: PrismaflowSettings, serde: AvroSerde) -> ApprovalService:
    """The service with its audit chain resumed and the rollout policy's change (if any) queued for the ledger."""
    remediation, worker = settings.remediation, settings.worker
    if remediation.api_token is None:
        raise ConfigurationError("PRISMAFLOW_REMEDIATION_API_TOKEN is not set: the approval API would be open")
    audit_topic = worker.topic_prefix + AUDIT.name
    signer = settings.audit.signer()  # no key: a ConfigurationError naming the setting, before anything starts
    audit = AuditWriter(f"approvals/{worker.instance_id}", settings.kafka, serde, signer=signer, topic=audit_topic)
    audit.start()
    service = ApprovalService(
        app_id=app_id(settings), kafka=settings.kafka, serde=serde, keys=remediation.signing_keys(),
        signing_key_id=remediation.signing_key_id, api_token=remediation.api_token.get_secret_value(),
        topic_prefix=worker.topic_prefix, datadir=default_home() / "approvals" / app_id(settings),
        web_host=remediation.service_host, web_port=remediation.service_port,
        timer_interval_s=remediation.timer_interval_s, audit=audit, on_escalation=_chat_escalation(settings))
    # faust declares these itself, but its partition assignor drops a topic the broker's metadata does not
    # show yet ("Ignoring missing topic"): the ticks agent then never runs and no request escalates or
    # expires. Created (and their leaders awaited) before faust starts, they are there from the first assignment.
    create_topics(KafkaClients(settings.kafka).admin(), service.internal_topics,
                  replication_factor=settings.kafka.topic_replication_factor)
    policy = load_rollout_policy(remediation.rollout_policy_file)
    change = audit_policy_change(policy, remediation.rollout_policy_file, settings.kafka, serde, topic=audit_topic,
                                 signer=signer)
    if change is not None:
        service.queue_at_start(change)
    return service


def _chat_escalation(settings: PrismaflowSettings) -> ChatEscalation | None:
    """Where overdue requests are posted: the chat webhook (``PRISMAFLOW_CHAT_*``) with the console's link
    (signed when ``PRISMAFLOW_CONSOLE_LINK_SECRET`` is set); None when ``..._ESCALATE_TO_CHAT`` is off."""
    if not settings.remediation.escalate_to_chat:
        return None
    links = link_signer(settings.console) if settings.console.link_secret is not None else None
    return ChatEscalation(ChatWebhookClient(settings.chat), console_base_url=settings.console.base_url, links=links)


def run_approval_service(settings: PrismaflowSettings) -> int:
    """Run the approval service's faust worker until SIGTERM or SIGINT."""
    service = build_service(settings, build_serde(settings))
    logging.getLogger("faust").setLevel(logging.WARNING)
    faust.Worker(service.app, loglevel="WARNING", quiet=True, redirect_stdouts=False).execute_from_commandline()
    return 0


def run_remediation_stage(name: str, settings: PrismaflowSettings) -> int:
    """``prismaflow run remediate|execute``: one remediation stage on the worker loop until SIGTERM/SIGINT."""
    worker = build_remediation_worker(name, settings, build_serde(settings))
    serve_worker_health(worker, settings)
    try:
        return run_until_signalled(worker.run, worker.stop, name=f"run {name}")
    finally:
        getattr(worker.stage, "close", lambda: None)()  # the stage's HTTP event loop
