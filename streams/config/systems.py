"""The outside systems' sections of the settings tree: Prisma Cloud, feeds, Jira, ServiceNow, Splunk, syslog, chat.

Each holds what an operator sets for one system, under that system's environment prefix
(``PRISMAFLOW_PRISMA_*``, ``PRISMAFLOW_JIRA_*`` ...), and builds the connector's own client model in
one method (``client_settings``): the connector models carry more (retry policies, routing tables, auth
unions) than an environment variable can, and they never read the environment. Where a field is the
connector's, its default is read from the connector's model (:func:`_shared`), so the two cannot
drift; the sections' own defaults are the local simulators' addresses and credentials.
:class:`streams.config.PrismaflowSettings` holds one of each.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr

from connectors.jira.settings import BasicAuth as JiraBasicAuth
from connectors.jira.settings import BearerAuth as JiraBearerAuth
from connectors.jira.settings import JiraSettings
from connectors.servicenow.settings import BasicAuth as ServiceNowBasicAuth
from connectors.servicenow.settings import BearerAuth as ServiceNowBearerAuth
from connectors.servicenow.settings import ServiceNowSettings, ServiceNowTable
from connectors.slack.client import ChatKind
from processors.models import RiskTier
from streams.settings import SettingsSection

__all__ = ["CHAT_DEFAULTS", "CHAT_NAMES", "FEED_NAMES", "PRISMA_DEFAULTS", "PRISMA_NAMES", "SPLUNK_DEFAULTS",
           "SYSLOG_DEFAULTS", "SYSLOG_SINK_DEFAULTS", "JiraEnvSettings", "ServiceNowEnvSettings"]

#: ``PRISMAFLOW_PRISMA_*``: :class:`~connectors.prisma.settings.PrismaSettings`, whose key pair is named as
#: Prisma Cloud's console names it (access key ID and secret key), by default the local simulator's.
PRISMA_NAMES = {"username": "access_key_id", "password": "secret_key"}
PRISMA_DEFAULTS: dict[str, Any] = {"api_url": "http://127.0.0.1:8181", "compute_url": "http://127.0.0.1:8181",
                                   "username": "sim-access-key", "password": SecretStr("sim-secret-key")}


#: ``PRISMAFLOW_FEEDS_*``: :class:`~connectors.feeds.settings.FeedSettings`; its download timeout is ``TIMEOUT_S``.
FEED_NAMES = {"request_timeout_s": "timeout_s"}


#: ``PRISMAFLOW_SPLUNK_*``: :class:`~connectors.splunk.settings.SplunkHecSettings`, by default the local
#: simulator's HEC (the forwarding options are :class:`~streams.config.stages.ForwardSinkSettings`).
SPLUNK_DEFAULTS: dict[str, Any] = {"url": "http://127.0.0.1:8288",
                                   "token": SecretStr("11111111-2222-3333-4444-555555555555")}
#: ``PRISMAFLOW_SYSLOG_*``: :class:`~connectors.syslog.client.SyslogSettings`, by default a receiver on
#: this machine (the forwarding and CEF options are :class:`~streams.config.stages.CefSinkSettings`).
SYSLOG_DEFAULTS: dict[str, Any] = {"host": "127.0.0.1"}
#: ...whose sink forwards from tier medium up (Splunk's from low up).
SYSLOG_SINK_DEFAULTS: dict[str, Any] = {"min_tier": RiskTier.MEDIUM}
#: ``PRISMAFLOW_CHAT_*``: :class:`~connectors.slack.client.ChatWebhookSettings`, by default the local chat
#: simulator's Slack webhook; its URL is ``WEBHOOK_URL`` (the notify options are
#: :class:`~streams.config.stages.ChatSinkSettings`).
CHAT_NAMES = {"url": "webhook_url"}
CHAT_DEFAULTS: dict[str, Any] = {
    "kind": ChatKind.SLACK,
    "url": SecretStr("http://127.0.0.1:8282/services/T0SIM0001/B0SIM0001/simsecretsimsecretsimsecr")}


def _shared(model: type[BaseModel], name: str) -> Any:
    """The default of ``model``'s field ``name``: a section shares the connector's default instead of
    repeating it, so the two cannot drift (the sections' own defaults are the simulators' addresses)."""
    return model.model_fields[name].get_default(call_default_factory=True)


class JiraEnvSettings(SettingsSection):
    """The Jira site the Jira sink writes to (Cloud REST v3, or Data Center v2)."""

    base_url: str = Field(default="http://127.0.0.1:8281", description="Site base URL, e.g. https://acme.atlassian.net")
    flavour: str = Field(default=_shared(JiraSettings, "flavour"), description="cloud (REST v3, ADF) or datacenter (REST v2, wiki markup)")
    email: str = Field(default="bot@example.com", description="Account e-mail (Cloud) or user (DC) for basic auth")
    api_token: SecretStr = Field(default=SecretStr("sim-api-token"), description="API token or password (secret)")
    bearer_token: SecretStr | None = Field(default=None, description="Bearer token (DC PAT, OAuth); wins over basic auth")
    project_key: str = Field(default=_shared(JiraSettings, "project_key"), description="Project for new issues (owner routing may override)")

    def client_settings(self) -> JiraSettings:
        """The Jira client's settings: bearer auth when a bearer token is set, else basic auth."""
        auth = (JiraBearerAuth(token=self.bearer_token) if self.bearer_token
                else JiraBasicAuth(email=self.email, api_token=self.api_token))
        return JiraSettings(base_url=self.base_url, flavour=self.flavour, auth=auth,  # type: ignore[arg-type]
                            project_key=self.project_key)


class ServiceNowEnvSettings(SettingsSection):
    """The ServiceNow instance the ServiceNow sink writes to (Table API)."""

    instance_url: str = Field(default="http://127.0.0.1:8282", description="https://<instance>.service-now.com")
    table: str = Field(default=_shared(ServiceNowSettings, "table").value, description="incident or sn_si_incident")
    username: str = Field(default="prismaflow", description="Integration user (basic auth)")
    password: SecretStr = Field(default=SecretStr("sim-password"), description="Its password (secret)")
    bearer_token: SecretStr | None = Field(default=None, description="OAuth access token; wins over basic auth")

    def client_settings(self) -> ServiceNowSettings:
        """The ServiceNow client's settings: bearer auth when a token is set, else basic auth."""
        auth = (ServiceNowBearerAuth(token=self.bearer_token) if self.bearer_token
                else ServiceNowBasicAuth(username=self.username, password=self.password))
        return ServiceNowSettings(instance_url=self.instance_url, table=ServiceNowTable(self.table), auth=auth)
