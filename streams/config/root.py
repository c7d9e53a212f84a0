"""The settings tree: :class:`PrismaflowSettings`, whose sections are the components' own models.

Each section is one component's settings model (Kafka client, pollers, workers, Jira, ...) under its
own environment prefix; the root reads them all through one pydantic-settings source
(:class:`~streams.config.source.SectionedEnvironmentSource`: environment, then the secrets folder),
so no module reads ``os.environ`` for a setting and no model reads it itself. :func:`load_settings`
is how every command starts: it first refuses unknown ``PRISMAFLOW_*`` / ``KAFKA_*`` variables (a
misspelled name would otherwise be silently ignored), naming the closest known one.

The outside systems' sections are the connectors' own models; :mod:`streams.config.systems` holds how
each binds to the environment (variable names that differ from field names, the local simulators as
defaults). Two sections may share a prefix when they are one system's two sides: the connector's model
and its sink's options (``splunk`` / ``splunk_sink``), or the analysis stage and its LLM endpoint.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.aws.settings import AwsExecutorSettings
from connectors.feeds.settings import FeedSettings
from connectors.jira.settings import JiraSettings
from connectors.llm.settings import LlmSettings
from connectors.prisma.settings import PollerSettings, PrismaSettings, WebhookSettings
from connectors.iac.terraform import TerraformCheckerSettings
from connectors.runner.settings import RunnerSettings
from connectors.servicenow.settings import ServiceNowSettings
from connectors.slack.client import ChatWebhookSettings
from connectors.splunk.settings import SplunkHecSettings
from connectors.syslog.client import SyslogSettings
from processors.errors import ConfigurationError
from processors.tickets import SyncPolicy, TicketRules
from streams.analysis.settings import AnalysisSettings
from streams.config.audit import AuditSettings
from streams.config.source import SECRETS_DIR_VARIABLE, Section, SectionedEnvironmentSource, section_field, sections_of
from streams.config.stages import (
    CefSinkSettings,
    ChatSinkSettings,
    ForwardSinkSettings,
    SiemStageSettings,
    SyncScheduleSettings,
    WorkerSettings,
)
from streams.config.systems import (
    CHAT_DEFAULTS,
    CHAT_NAMES,
    FEED_NAMES,
    JIRA_DEFAULTS,
    LLM_DEFAULTS,
    PRISMA_DEFAULTS,
    PRISMA_NAMES,
    SERVICENOW_DEFAULTS,
    SPLUNK_DEFAULTS,
    SYSLOG_DEFAULTS,
    SYSLOG_SINK_DEFAULTS,
)
from streams.remediation.settings import RemediationSettings
from streams.console.settings import ConsoleSettings
from streams.settings import BrokerSettings, KafkaSettings, SchemaRegistrySettings

__all__ = ["CHECKED_PREFIXES", "GENERAL_VARIABLES", "PASSTHROUGH_PREFIXES", "TOOLING_VARIABLES",
           "PrismaflowSettings", "check_variables", "known_variables", "load_settings", "sections",
           "unknown_variables"]

#: Variables the program reads that are not sections' settings, with what they are for.
GENERAL_VARIABLES: dict[str, str] = {
    "PRISMAFLOW_HOME": "Folder for local state: broker data, logs, checkpoints of the demo",
    SECRETS_DIR_VARIABLE: "Folder of secret files, one per setting, named like the variable in lower case "
                          "(e.g. `kafka_sasl_password`); the environment wins over a file",
}
#: Variables read by the test and build tooling, not by the program: known, so they pass the check.
TOOLING_VARIABLES: dict[str, str] = {
    "PRISMAFLOW_FUZZ_EXAMPLES": "Cases per fuzz test (`make fuzz`; tests/fuzz_settings.py)",
    "PRISMAFLOW_DEPS_SBIN": "Where scripts/system-deps.sh looks for rsyslogd besides PATH (a test seam)",
    "PRISMAFLOW_DEPS_LIBDIRS": "Where scripts/system-deps.sh looks for rsyslog's modules (a test seam)",
    "PRISMAFLOW_TOOLS_BIN": "Where scripts/deploy-tools.sh puts helm, kube-score and docker-compose (tests)",
}
#: Prefixes under which every variable must be known.
CHECKED_PREFIXES = ("PRISMAFLOW_", "KAFKA_")
#: Prefixes whose variables are all known: ``KAFKA_CONFIG__<PROPERTY>`` passes a librdkafka property.
PASSTHROUGH_PREFIXES = ("KAFKA_CONFIG__",)


class PrismaflowSettings(BaseSettings):
    """Every setting of every component, one section per component, in the README's order."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kafka: KafkaSettings = section_field(KafkaSettings, "KAFKA_", "Kafka client")
    schema_registry: SchemaRegistrySettings = section_field(SchemaRegistrySettings, "SCHEMA_REGISTRY_", "Schema Registry")
    broker: BrokerSettings = section_field(BrokerSettings, "PRISMAFLOW_BROKER_", "Local broker")
    prisma: PrismaSettings = section_field(PrismaSettings, "PRISMAFLOW_PRISMA_", "Prisma Cloud API",
                                           names=PRISMA_NAMES, defaults=PRISMA_DEFAULTS)
    poller: PollerSettings = section_field(PollerSettings, "PRISMAFLOW_POLLER_", "Prisma Cloud pollers")
    webhook: WebhookSettings = section_field(WebhookSettings, "PRISMAFLOW_WEBHOOK_", "Webhook receiver")
    worker: WorkerSettings = section_field(WorkerSettings, "PRISMAFLOW_WORKER_", "Stream workers")
    feeds: FeedSettings = section_field(FeedSettings, "PRISMAFLOW_FEEDS_", "Exploitability feeds", names=FEED_NAMES)
    analysis: AnalysisSettings = section_field(AnalysisSettings, "PRISMAFLOW_LLM_", "Analysis stage")
    llm: LlmSettings = section_field(LlmSettings, "PRISMAFLOW_LLM_", "LLM endpoint", defaults=LLM_DEFAULTS)
    audit: AuditSettings = section_field(AuditSettings, "PRISMAFLOW_AUDIT_", "Audit ledger")
    tickets: TicketRules = section_field(TicketRules, "PRISMAFLOW_TICKETS_", "Ticket lifecycle")
    jira: JiraSettings = section_field(JiraSettings, "PRISMAFLOW_JIRA_", "Jira sink", defaults=JIRA_DEFAULTS)
    servicenow: ServiceNowSettings = section_field(ServiceNowSettings, "PRISMAFLOW_SERVICENOW_", "ServiceNow sink",
                                                   defaults=SERVICENOW_DEFAULTS)
    sync: SyncPolicy = section_field(SyncPolicy, "PRISMAFLOW_SYNC_", "Ticket sync")
    sync_schedule: SyncScheduleSettings = section_field(SyncScheduleSettings, "PRISMAFLOW_SYNC_", "Ticket sync schedule")
    siem: SiemStageSettings = section_field(SiemStageSettings, "PRISMAFLOW_SIEM_", "SIEM events stage")
    splunk: SplunkHecSettings = section_field(SplunkHecSettings, "PRISMAFLOW_SPLUNK_", "Splunk HEC",
                                              defaults=SPLUNK_DEFAULTS)
    splunk_sink: ForwardSinkSettings = section_field(ForwardSinkSettings, "PRISMAFLOW_SPLUNK_", "Splunk sink")
    syslog: SyslogSettings = section_field(SyslogSettings, "PRISMAFLOW_SYSLOG_", "Syslog receiver",
                                           defaults=SYSLOG_DEFAULTS)
    syslog_sink: CefSinkSettings = section_field(CefSinkSettings, "PRISMAFLOW_SYSLOG_", "Syslog/CEF sink",
                                                 defaults=SYSLOG_SINK_DEFAULTS)
    chat: ChatWebhookSettings = section_field(ChatWebhookSettings, "PRISMAFLOW_CHAT_", "Chat webhook",
                                              names=CHAT_NAMES, defaults=CHAT_DEFAULTS)
    chat_sink: ChatSinkSettings = section_field(ChatSinkSettings, "PRISMAFLOW_CHAT_", "Chat sink")
    aws_executor: AwsExecutorSettings = section_field(AwsExecutorSettings, "PRISMAFLOW_AWS_", "AWS executor")
    runner: RunnerSettings = section_field(RunnerSettings, "PRISMAFLOW_RUNNER_", "Azure/GCP runner")
    terraform: TerraformCheckerSettings = section_field(TerraformCheckerSettings, "PRISMAFLOW_TERRAFORM_",
                                                        "Terraform fix checks (Checkov)")
    remediation: RemediationSettings = section_field(RemediationSettings, "PRISMAFLOW_REMEDIATION_",
                                                     "Remediation: rollout modes and approval")
    console: ConsoleSettings = section_field(ConsoleSettings, "PRISMAFLOW_CONSOLE_", "Approval console")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Values passed in (tests), then the sectioned environment and secrets folder; nothing else."""
        return init_settings, SectionedEnvironmentSource(settings_cls)


def sections() -> list[Section]:
    """The sections of the tree, in reference order."""
    return sections_of(PrismaflowSettings)


def known_variables() -> list[str]:
    """Every variable name Prismaflow knows: each section's settings, then the general and tooling ones."""
    names = [variable for section in sections() for variable, _, _ in section.variables()]
    return names + list(GENERAL_VARIABLES) + list(TOOLING_VARIABLES)


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """``(variable, closest known name or None)`` for every unknown ``PRISMAFLOW_*`` / ``KAFKA_*`` variable."""
    known = known_variables()
    known_set = set(known)
    entry_prefixes = PASSTHROUGH_PREFIXES + tuple(prefix for section in sections()
                                                  for prefix, _ in section.entry_prefixes())
    unknown: list[tuple[str, str | None]] = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(CHECKED_PREFIXES) or upper.startswith(entry_prefixes) or upper in known_set:
            continue
        closest = difflib.get_close_matches(upper, known, n=1, cutoff=0.8)
        unknown.append((name, closest[0] if closest else None))
    return unknown


def check_variables(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`ConfigurationError` naming every unknown variable and the closest known one."""
    unknown = unknown_variables(os.environ if environ is None else environ)
    if unknown:
        raise ConfigurationError("; ".join(
            f"unknown setting {name}" + (f" — did you mean {closest}?" if closest else
                                         " (`prismaflow config` lists every setting)")
            for name, closest in unknown))


def load_settings() -> PrismaflowSettings:
    """The settings tree from this process' environment and secrets folder.

    Raises :class:`ConfigurationError` for an unknown variable or a value a section refuses (the
    message names each variable and the rule, never the value: it may be a secret).
    """
    check_variables()
    try:
        return PrismaflowSettings()
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def _describe(error: ValidationError) -> str:
    """One line per refused value, named by its variable."""
    by_name = {section.name: section for section in sections()}
    problems: list[str] = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        section = by_name.get(location[0]) if location else None
        if section is not None and len(location) > 1:
            name = section.variable(location[1])
        elif section is not None:  # a rule over several settings of the section (its message names them)
            name = f"{section.prefix}*"
        else:
            name = ".".join(location) or "settings"
        problems.append(f"{name}: {item['msg'].removeprefix('Value error, ')}")  # pydantic's prefix says nothing
    return "invalid setting " + "; ".join(problems)
