"""Running the sinks and the analysis stage from settings: ``prismaflow sink <name>`` and
``prismaflow run analyse``.

Each sink is its own process and consumer group (``<group prefix>.sink.<name>``); its audit chain is
named ``<name>/<instance id>``. Defaults point at the local simulators (``python -m
connectors.jira.simulator`` etc.); a real Jira site, ServiceNow instance, Splunk or LLM endpoint is
configuration only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from processors.errors import ConfigurationError
from processors.models import RiskTier
from processors.tickets import TicketRules
from streams.audit import AuditWriter
from streams.process import AsyncStopper, run_until_signalled
from streams.serde import AvroSerde
from streams.settings import KafkaSettings, _Settings
from streams.sink import Sink, SinkOptions, SinkWorker
from streams.topics import AUDIT, DLQ

__all__ = ["JiraEnvSettings", "ServiceNowEnvSettings", "TicketEnvSettings", "SyncEnvSettings", "SINKS", "build_sink",
           "run_sink", "run_analysis", "run_sync"]

log = logging.getLogger(__name__)


class JiraEnvSettings(_Settings):
    """The Jira site the Jira sink writes to (Cloud REST v3, or Data Center v2)."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_JIRA_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Jira sink"

    base_url: str = Field(default="http://127.0.0.1:8281", description="Site base URL, e.g. https://acme.atlassian.net")
    flavour: str = Field(default="cloud", description="cloud (REST v3, ADF) or datacenter (REST v2, wiki markup)")
    email: str = Field(default="bot@example.com", description="Account e-mail (Cloud) or user (DC) for basic auth")
    api_token: SecretStr = Field(default=SecretStr("sim-api-token"), description="API token or password (secret)")
    bearer_token: SecretStr | None = Field(default=None, description="Bearer token (DC PAT, OAuth); wins over basic auth")
    project_key: str = Field(default="SEC", description="Project for new issues (owner routing may override)")


class ServiceNowEnvSettings(_Settings):
    """The ServiceNow instance the ServiceNow sink writes to (Table API)."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_SERVICENOW_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "ServiceNow sink"

    instance_url: str = Field(default="http://127.0.0.1:8282", description="https://<instance>.service-now.com")
    table: str = Field(default="incident", description="incident or sn_si_incident")
    username: str = Field(default="prismaflow", description="Integration user (basic auth)")
    password: SecretStr = Field(default=SecretStr("sim-password"), description="Its password (secret)")
    bearer_token: SecretStr | None = Field(default=None, description="OAuth access token; wins over basic auth")


class TicketEnvSettings(_Settings):
    """When tickets are opened and reopened, and the sink processes' identity."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_TICKETS_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Ticket lifecycle"

    min_tier: RiskTier = Field(default=RiskTier.HIGH, description="Open tickets from this tier up")
    reopen_within_days: int = Field(default=30, ge=0, description="Reopen within this window; later open a new ticket")


def _jira_tracker() -> Any:
    from connectors.jira.settings import BasicAuth, BearerAuth, JiraSettings
    from connectors.jira.sink import JiraTicketTracker

    env = JiraEnvSettings()
    auth: Any = BearerAuth(token=env.bearer_token) if env.bearer_token else BasicAuth(email=env.email, api_token=env.api_token)
    return JiraTicketTracker(JiraSettings(base_url=env.base_url, flavour=env.flavour, auth=auth,  # type: ignore[arg-type]
                                          project_key=env.project_key))


def _servicenow_tracker() -> Any:
    from connectors.servicenow.settings import BasicAuth, BearerAuth, ServiceNowSettings, ServiceNowTable
    from connectors.servicenow.sink import ServiceNowTicketTracker

    env = ServiceNowEnvSettings()
    auth: Any = BearerAuth(token=env.bearer_token) if env.bearer_token else BasicAuth(username=env.username,
                                                                                     password=env.password)
    return ServiceNowTicketTracker(ServiceNowSettings(instance_url=env.instance_url, table=ServiceNowTable(env.table),
                                                      auth=auth))


def _ticket_sink(tracker_factory: Callable[[], Any]) -> Callable[[KafkaSettings, AvroSerde, str, AuditWriter], Sink]:
    def build(kafka: KafkaSettings, serde: AvroSerde, prefix: str, audit: AuditWriter) -> Sink:
        from streams.tickets import TicketSink

        env = TicketEnvSettings()
        audit.start()
        return TicketSink(tracker_factory(), kafka, serde, topic_prefix=prefix, audit=audit,
                          rules=TicketRules(min_tier=env.min_tier, reopen_within_days=env.reopen_within_days))

    return build


def _own_audit(name: str) -> Callable[[KafkaSettings, AvroSerde, str, AuditWriter], Sink]:
    """The SIEM and chat sinks build (and name) their own audit writers."""
    def build(kafka: KafkaSettings, serde: AvroSerde, prefix: str, audit: AuditWriter) -> Sink:
        if name == "chat":
            from streams.chat import build_sink as build_chat

            return build_chat(name, kafka, serde, prefix)
        from streams.siem import build_sink as build_siem

        return build_siem(name, kafka, serde, prefix)

    return build


SINKS: dict[str, Callable[[KafkaSettings, AvroSerde, str, AuditWriter], Sink]] = {
    "jira": _ticket_sink(_jira_tracker),
    "servicenow": _ticket_sink(_servicenow_tracker),
    "siem": _own_audit("siem"),
    "splunk": _own_audit("splunk"),
    "syslog": _own_audit("syslog"),
    "chat": _own_audit("chat"),
}


def build_sink(name: str, kafka: KafkaSettings, serde: AvroSerde, prefix: str, audit: AuditWriter) -> Sink:
    try:
        factory = SINKS[name]
    except KeyError:
        raise ConfigurationError(f"unknown sink {name!r}; choose one of {', '.join(sorted(SINKS))}") from None
    return factory(kafka, serde, prefix, audit)


def _run(sink_name: str, build: Callable[[KafkaSettings, AvroSerde, str, AuditWriter], Sink]) -> int:
    from streams.metrics import HEALTH, broker_check, group_joined_check, serve_metrics, sink_target_check
    from streams.run import WorkerSettings, build_serde

    worker_settings = WorkerSettings()
    kafka, serde, prefix = KafkaSettings(), build_serde(), worker_settings.topic_prefix
    # Not started here: a builder that writes to this chain starts it; the SIEM and chat sinks name
    # and start their own.
    audit = AuditWriter(f"{sink_name}/{worker_settings.instance_id}", kafka, serde, topic=prefix + AUDIT.name)
    sink = build(kafka, serde, prefix, audit)
    worker = SinkWorker(kafka, serde, sink, SinkOptions(
        group_id=f"{worker_settings.group_prefix}.sink.{sink_name}", dlq_topic=prefix + DLQ.name))
    HEALTH.add_check("broker", broker_check(kafka.client_config(), sink.topics))
    HEALTH.add_check("group", group_joined_check(worker))
    HEALTH.add_check("target", sink_target_check(sink.name))
    serve_metrics(worker_settings.metrics_port, worker_settings.metrics_addr)

    log.info("sink starting sink=%s instance=%s", sink_name, worker_settings.instance_id)
    return run_until_signalled(worker.run, worker.stop, name=f"sink {sink_name}")


def run_sink(name: str) -> int:
    """Run sink ``name`` until SIGTERM/SIGINT."""
    if name not in SINKS:
        raise ConfigurationError(f"unknown sink {name!r}; choose one of {', '.join(sorted(SINKS))}")
    return _run(name, SINKS[name])


class SyncEnvSettings(_Settings):
    """Bidirectional sync between the trackers and Prisma Cloud."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_SYNC_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Ticket sync"

    interval_s: float = Field(default=300.0, gt=0, description="Seconds between two passes over the open tickets")
    dismiss_on_accepted_risk: bool = Field(
        default=False, description="Dismiss the Prisma alerts of a ticket closed as accepted risk / won't fix")


def run_sync(name: str) -> int:
    """Run the tracker → Prisma Cloud sync for tracker ``name`` until SIGTERM/SIGINT."""
    from connectors.prisma.cspm_client import CspmClient
    from processors.tickets import SyncPolicy
    from streams.metrics import HEALTH, beat_while_running, broker_check, serve_metrics
    from streams.run import WorkerSettings, build_serde
    from streams.sources import PrismaConnectionSettings
    from streams.ticket_sync import TicketSyncer

    trackers = {"jira": _jira_tracker, "servicenow": _servicenow_tracker}
    if name not in trackers:
        raise ConfigurationError(f"unknown tracker {name!r}; choose jira or servicenow")
    worker_settings, env = WorkerSettings(), SyncEnvSettings()
    kafka, serde, prefix = KafkaSettings(), build_serde(), worker_settings.topic_prefix
    audit = AuditWriter(f"sync.{name}/{worker_settings.instance_id}", kafka, serde, topic=prefix + AUDIT.name)
    audit.start()
    HEALTH.add_check("broker", broker_check(kafka.client_config(), [prefix + AUDIT.name]))
    serve_metrics(worker_settings.metrics_port, worker_settings.metrics_addr)

    stopper = AsyncStopper()

    async def main() -> None:
        stop = stopper.bind()
        beating = asyncio.create_task(beat_while_running(stop))
        tracker = trackers[name]()
        try:
            async with CspmClient(PrismaConnectionSettings().client_settings()) as prisma:
                syncer = TicketSyncer(tracker, prisma, kafka, serde, topic_prefix=prefix, audit=audit,
                                      policy=SyncPolicy(dismiss_on_accepted_risk=env.dismiss_on_accepted_risk))
                await syncer.run(stop, env.interval_s)
            await tracker.aclose()
        finally:
            beating.cancel()

    return run_until_signalled(lambda: asyncio.run(main()), stopper.stop, name=f"sync {name}")


def run_analysis() -> int:
    """Run the analysis stage until SIGTERM/SIGINT (LLM when configured, else offline)."""
    from streams.analysis import AnalysisService, AnalysisSink, AnalysisStageSettings

    def build(kafka: KafkaSettings, serde: AvroSerde, prefix: str, audit: AuditWriter) -> Sink:
        settings = AnalysisStageSettings()
        if settings.api_key is None:
            log.warning("no PRISMAFLOW_LLM_API_KEY: every analysis is written by the offline analyser")
        audit.start()
        return AnalysisSink(AnalysisService(settings.analysis_settings()), topic_prefix=prefix, audit=audit)

    return _run("analyse", build)
