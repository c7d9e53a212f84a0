"""The settings tree: :class:`PrismaflowSettings`, whose sections are the components' own models.

Each section is one component's settings model (Kafka client, pollers, workers, Jira, ...) under its
own environment prefix; the root reads them all through one pydantic-settings source
(:class:`~streams.config.source.SectionedEnvironmentSource`: environment, then the secrets folder),
so no module reads ``os.environ`` for a setting and no model reads it itself. :func:`load_settings`
is how every command starts: it first refuses unknown ``PRISMAFLOW_*`` / ``KAFKA_*`` variables (a
misspelled name would otherwise be silently ignored), naming the closest known one.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from connectors.prisma.settings import PollerSettings, WebhookSettings
from processors.errors import ConfigurationError
from processors.tickets import TicketRules
from streams.analysis.settings import AnalysisStageSettings
from streams.config.source import SECRETS_DIR_VARIABLE, Section, SectionedEnvironmentSource, sections_of
from streams.config.stages import SiemStageSettings, SyncEnvSettings, WorkerSettings
from streams.config.systems import (
    ChatSinkSettings,
    FeedEnvSettings,
    JiraEnvSettings,
    PrismaConnectionSettings,
    ServiceNowEnvSettings,
    SplunkSinkSettings,
    SyslogSinkSettings,
)
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


def _section(model: type[BaseModel], prefix: str, title: str) -> Any:
    """A section field: the component's model, filled from variables ``<prefix><FIELD>``."""
    return Field(default_factory=model, title=title, json_schema_extra={"env_prefix": prefix})


class PrismaflowSettings(BaseSettings):
    """Every setting of every component, one section per component, in the README's order."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kafka: KafkaSettings = _section(KafkaSettings, "KAFKA_", "Kafka client")
    schema_registry: SchemaRegistrySettings = _section(SchemaRegistrySettings, "SCHEMA_REGISTRY_", "Schema Registry")
    broker: BrokerSettings = _section(BrokerSettings, "PRISMAFLOW_BROKER_", "Local broker")
    prisma: PrismaConnectionSettings = _section(PrismaConnectionSettings, "PRISMAFLOW_PRISMA_", "Prisma Cloud API")
    poller: PollerSettings = _section(PollerSettings, "PRISMAFLOW_POLLER_", "Prisma Cloud pollers")
    webhook: WebhookSettings = _section(WebhookSettings, "PRISMAFLOW_WEBHOOK_", "Webhook receiver")
    worker: WorkerSettings = _section(WorkerSettings, "PRISMAFLOW_WORKER_", "Stream workers")
    feeds: FeedEnvSettings = _section(FeedEnvSettings, "PRISMAFLOW_FEEDS_", "Exploitability feeds")
    analysis: AnalysisStageSettings = _section(AnalysisStageSettings, "PRISMAFLOW_LLM_", "Analysis stage and LLM")
    tickets: TicketRules = _section(TicketRules, "PRISMAFLOW_TICKETS_", "Ticket lifecycle")
    jira: JiraEnvSettings = _section(JiraEnvSettings, "PRISMAFLOW_JIRA_", "Jira sink")
    servicenow: ServiceNowEnvSettings = _section(ServiceNowEnvSettings, "PRISMAFLOW_SERVICENOW_", "ServiceNow sink")
    sync: SyncEnvSettings = _section(SyncEnvSettings, "PRISMAFLOW_SYNC_", "Ticket sync")
    siem: SiemStageSettings = _section(SiemStageSettings, "PRISMAFLOW_SIEM_", "SIEM events stage")
    splunk: SplunkSinkSettings = _section(SplunkSinkSettings, "PRISMAFLOW_SPLUNK_", "Splunk HEC sink")
    syslog: SyslogSinkSettings = _section(SyslogSinkSettings, "PRISMAFLOW_SYSLOG_", "Syslog/CEF sink")
    chat: ChatSinkSettings = _section(ChatSinkSettings, "PRISMAFLOW_CHAT_", "Chat sink")

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
        else:
            name = ".".join(location) or "settings"
        problems.append(f"{name}: {item['msg']}")
    return "invalid setting " + "; ".join(problems)
