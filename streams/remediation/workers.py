"""``prismaflow run remediate`` and ``prismaflow run execute``: the two remediation stages from the settings tree.

- ``remediate`` (:class:`~streams.remediation.request_stage.RemediationRequestStage`) reads
  ``prisma.alerts.scored`` and writes requests on ``prisma.remediations``; it validates with botocore's
  models and python-hcl2 + Checkov (``checkov`` on the PATH), follows the rollout policy
  (``PRISMAFLOW_REMEDIATION_*``), raises the approval ticket in Jira (``PRISMAFLOW_JIRA_*``; the
  workflow needs a "Request Approval" transition into *Pending Approval*) and posts the chat message
  (``PRISMAFLOW_CHAT_*``) with the console's signed link (``PRISMAFLOW_CONSOLE_BASE_URL`` and
  ``..._LINK_SECRET``); in auto mode it dismisses the known false positives the policy's ``auto_dismiss``
  allows through the Prisma Cloud API (``PRISMAFLOW_PRISMA_*``). The alert's analysis on
  ``prisma.analyses``, when there is one, is the planner's fallback
  (:class:`~streams.remediation.analyses.AnalysisLookup`). For CIEM alerts it asks Prisma's IAM
  permission search (``PRISMAFLOW_PRISMA_*``) what the role used, and lints the least-privilege
  policy with parliament.
- ``execute`` (:class:`~streams.remediation.executor_stage.ExecutorStage`) reads
  ``prisma.remediations.decisions``, verifies with the approval service's keys
  (``PRISMAFLOW_REMEDIATION_SIGNING_KEY``), runs through the sandboxed executor (``PRISMAFLOW_AWS_*``,
  ``PRISMAFLOW_RUNNER_*``) for real, re-checks through the Prisma Cloud API (``PRISMAFLOW_PRISMA_*``)
  and updates the request's Jira ticket.
"""

from __future__ import annotations

from typing import Any

from connectors.aws.iam_lint import ParliamentLinter
from connectors.aws.service_models import BotocoreServiceCatalog
from connectors.execution import build_executor
from connectors.iac.terraform import HclTerraformChecker
from connectors.jira.client import JiraClient
from connectors.prisma.cspm_client import CspmClient
from connectors.prisma.permissions import PrismaPermissionSearch
from connectors.slack.client import ChatWebhookClient
from processors.errors import ConfigurationError
from processors.remediation.families import parse_families
from processors.remediation.propose import ValidationPorts
from streams.compose import audit_writer
from streams.config import PrismaflowSettings
from streams.console.serve import link_signer
from streams.remediation.analyses import AnalysisLookup
from streams.remediation.announce import RequestAnnouncer, TicketFollowUps
from streams.remediation.executor_stage import ExecutorStage
from streams.remediation.policy import load_rollout_policy
from streams.remediation.request_stage import RemediationRequestStage
from streams.serde import AvroSerde
from streams.static_inputs import package_dir
from streams.topics import ANALYSES, DLQ
from streams.worker import TransactionalWorker, WorkerOptions

__all__ = ["REMEDIATION_STAGES", "build_remediation_worker"]

REMEDIATION_STAGES = ("remediate", "execute")


def _announcer(settings: PrismaflowSettings) -> RequestAnnouncer:
    return RequestAnnouncer(jira=JiraClient(settings.jira), chat=ChatWebhookClient(settings.chat),
                            links=link_signer(settings.console), console_base_url=settings.console.base_url)


def build_remediation_worker(name: str, settings: PrismaflowSettings, serde: AvroSerde) -> TransactionalWorker[Any]:
    """The worker of remediation stage ``name`` (``remediate`` or ``execute``), its audit chain started."""
    worker, prefix = settings.worker, settings.worker.topic_prefix
    stage: Any
    if name == "remediate":
        families_file = package_dir("processors.remediation") / "families.yaml"
        audit = audit_writer("remediation-requests", settings, serde)
        audit.start()
        stage = RemediationRequestStage(
            families=parse_families(families_file.read_text("utf-8"), str(families_file)),
            ports=ValidationPorts(BotocoreServiceCatalog(), HclTerraformChecker(settings.terraform),
                                  ParliamentLinter()),
            permissions=PrismaPermissionSearch(CspmClient(settings.prisma)),
            policy=load_rollout_policy(settings.remediation.rollout_policy_file),
            rules=settings.remediation.approval_rules(), audit=audit, announcer=_announcer(settings),
            analyses=AnalysisLookup(settings.kafka, serde, prefix + ANALYSES.name), min_tier=settings.tickets.min_tier, topic_prefix=prefix,
            dismisser=CspmClient(settings.prisma))
    elif name == "execute":
        audit = audit_writer("remediation-executor", settings, serde)
        audit.start()
        stage = ExecutorStage(kafka=settings.kafka, serde=serde, keys=settings.remediation.signing_keys(),
                              executor=build_executor(settings.aws_executor, settings.runner), audit=audit,
                              prisma=CspmClient(settings.prisma), tickets=TicketFollowUps(_announcer(settings)),
                              dry_run=settings.remediation.dry_run, topic_prefix=prefix)
    else:
        raise ConfigurationError(f"unknown remediation stage {name!r}; choose one of {', '.join(REMEDIATION_STAGES)}")
    options = WorkerOptions(group_id=f"{worker.group_prefix}.{name}", instance_id=worker.instance_id,
                            max_batch=worker.max_batch, poll_timeout_s=worker.poll_timeout_ms / 1000,
                            dlq_topic=prefix + DLQ.name)
    return TransactionalWorker(settings.kafka, serde, stage, options)
