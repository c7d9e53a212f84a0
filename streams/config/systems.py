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

import dataclasses
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from connectors.feeds.settings import FeedSettings
from connectors.jira.settings import BasicAuth as JiraBasicAuth
from connectors.jira.settings import BearerAuth as JiraBearerAuth
from connectors.jira.settings import JiraSettings
from connectors.prisma.settings import PrismaSettings
from connectors.servicenow.settings import BasicAuth as ServiceNowBasicAuth
from connectors.servicenow.settings import BearerAuth as ServiceNowBearerAuth
from connectors.servicenow.settings import ServiceNowSettings, ServiceNowTable
from connectors.slack.client import ChatKind, ChatWebhookSettings
from connectors.splunk.settings import SplunkHecSettings
from connectors.syslog.client import SyslogSettings
from streams.settings import SettingsSection

__all__ = ["TierName", "ChatSinkSettings", "FeedEnvSettings", "JiraEnvSettings", "PrismaConnectionSettings",
           "ServiceNowEnvSettings", "SplunkSinkSettings", "SyslogSinkSettings"]

#: A risk tier as an operator writes it in a sink's ``MIN_TIER`` / ``NOTIFY_TIER`` variable.
TierName = Literal["low", "medium", "high", "critical"]


def _shared(model: type[BaseModel], name: str) -> Any:
    """The default of ``model``'s field ``name``: a section shares the connector's default instead of
    repeating it, so the two cannot drift (the sections' own defaults are the simulators' addresses)."""
    return model.model_fields[name].get_default(call_default_factory=True)


class PrismaConnectionSettings(SettingsSection):
    """Where the pollers reach Prisma Cloud. Defaults point at the local simulator."""

    api_url: str = Field(default="http://127.0.0.1:8181", description="CSPM API base URL (your tenant's api*.prismacloud.io)")
    compute_url: str | None = Field(
        default="http://127.0.0.1:8181", description="Compute console URL; unset disables the Compute poller")
    access_key_id: str = Field(default="sim-access-key", description="Access key ID")
    secret_key: SecretStr = Field(default=SecretStr("sim-secret-key"), description="Secret key (secret)")
    page_size: int = Field(default=_shared(PrismaSettings, "page_size"), ge=1, le=10000, description="/v2/alert page size")

    def client_settings(self) -> PrismaSettings:
        """The Prisma Cloud clients' settings: these values, the connector's defaults for the rest."""
        return PrismaSettings(api_url=self.api_url, compute_url=self.compute_url, username=self.access_key_id,
                              password=self.secret_key, page_size=self.page_size)


class FeedEnvSettings(SettingsSection):
    """Where `prismaflow feeds refresh` downloads the feeds from and what it accepts."""

    kev_url: str = Field(default=_shared(FeedSettings, "kev_url"), description="CISA KEV catalogue (JSON)")
    epss_url: str = Field(default=_shared(FeedSettings, "epss_url"), description="FIRST EPSS daily scores (csv.gz; the current file redirects to the dated one)")
    timeout_s: float = Field(default=_shared(FeedSettings, "request_timeout_s"), gt=0, description="Timeout of one download")
    min_kev_entries: int = Field(default=_shared(FeedSettings, "min_kev_entries"), ge=1, description="A KEV download with fewer entries is refused")
    min_epss_rows: int = Field(default=_shared(FeedSettings, "min_epss_rows"), ge=1, description="An EPSS download with fewer rows is refused")
    max_attempts: int = Field(default=_shared(FeedSettings, "retry").max_attempts, ge=1, description="Attempts per download (transport errors, timeouts, 5xx)")

    def feed_settings(self) -> FeedSettings:
        """The feed client's settings: these values, the connector's defaults for the rest."""
        retry = dataclasses.replace(_shared(FeedSettings, "retry"), max_attempts=self.max_attempts)
        return FeedSettings(kev_url=self.kev_url, epss_url=self.epss_url, request_timeout_s=self.timeout_s,
                            min_kev_entries=self.min_kev_entries, min_epss_rows=self.min_epss_rows, retry=retry)


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


class SplunkSinkSettings(SettingsSection):
    """The Splunk HEC sink (``prismaflow sink splunk``)."""

    url: str = Field(default="http://127.0.0.1:8288", description="HEC base URL, https://<host>:8088")
    token: SecretStr = Field(default=SecretStr("11111111-2222-3333-4444-555555555555"),
                             description="HEC token (secret); the default is the simulator's")
    index: str | None = Field(default=_shared(SplunkHecSettings, "index"), description="Index; unset means the token's default index")
    sourcetype: str = Field(default=_shared(SplunkHecSettings, "sourcetype"), description="Sourcetype of the events")
    source: str = Field(default=_shared(SplunkHecSettings, "source"), description="Source of the events")
    host: str = Field(default=_shared(SplunkHecSettings, "host"), description="Host field of the events")
    use_ack: bool = Field(default=_shared(SplunkHecSettings, "use_ack"), description="Wait for indexer acknowledgement before committing offsets")
    gzip: bool = Field(default=_shared(SplunkHecSettings, "gzip"), description="Compress request bodies")
    max_batch_bytes: int = Field(default=_shared(SplunkHecSettings, "max_batch_bytes"), ge=1024, description="Uncompressed request size cap (bytes)")
    max_batch_events: int = Field(default=_shared(SplunkHecSettings, "max_batch_events"), ge=1, description="Events per request at most")
    ack_timeout_s: float = Field(default=_shared(SplunkHecSettings, "ack_timeout_s"), gt=0, description="How long to wait for acknowledgements")
    min_tier: TierName = Field(default="low", description="Forward only events of this risk tier or above")
    audit: bool = Field(default=False, description="Write one audit record per forwarded batch")

    def client_settings(self) -> SplunkHecSettings:
        """The HEC client's settings (``min_tier`` and ``audit`` belong to the sink)."""
        return SplunkHecSettings(url=self.url, token=self.token, index=self.index, sourcetype=self.sourcetype,
                                 source=self.source, host=self.host, use_ack=self.use_ack, gzip=self.gzip,
                                 max_batch_bytes=self.max_batch_bytes, max_batch_events=self.max_batch_events,
                                 ack_timeout_s=self.ack_timeout_s)


class SyslogSinkSettings(SettingsSection):
    """The syslog/CEF sink (``prismaflow sink syslog``)."""

    host: str = Field(default="127.0.0.1", description="Syslog receiver host")
    port: int = Field(default=_shared(SyslogSettings, "port"), ge=1, le=65535, description="Receiver port; 6514 is syslog over TLS")
    tls: bool = Field(default=_shared(SyslogSettings, "tls"), description="Use TLS (certificate verified)")
    ca_file: Path | None = Field(default=_shared(SyslogSettings, "ca_file"), description="CA bundle for the receiver; unset means the system store")
    verify: bool = Field(default=_shared(SyslogSettings, "verify"), description="Verify the receiver's certificate (off: loopback tests only)")
    client_cert_file: Path | None = Field(default=_shared(SyslogSettings, "client_cert_file"), description="Client certificate for mutual TLS")
    client_key_file: Path | None = Field(default=_shared(SyslogSettings, "client_key_file"), description="Client key for mutual TLS")
    server_name: str | None = Field(default=_shared(SyslogSettings, "server_name"), description="TLS name to check; default the host")
    facility: int = Field(default=_shared(SyslogSettings, "facility"), ge=0, le=23, description="RFC 5424 facility code (16 = local0)")
    app_name: str = Field(default=_shared(SyslogSettings, "app_name"), description="RFC 5424 APP-NAME")
    hostname: str | None = Field(default=_shared(SyslogSettings, "hostname"), description="RFC 5424 HOSTNAME; default this machine's name")
    min_tier: TierName = Field(default="medium", description="Forward only events of this risk tier or above")
    console_base_url: str | None = Field(default=None, description="Base URL for CEF request=<base>/<alert id>")
    device_external_id: str | None = Field(default=None, description="CEF deviceExternalId: this instance or tenant")
    audit: bool = Field(default=False, description="Write one audit record per forwarded batch")

    def client_settings(self) -> SyslogSettings:
        """The syslog client's settings (``min_tier``, the CEF fields and ``audit`` belong to the sink)."""
        return SyslogSettings(host=self.host, port=self.port, tls=self.tls, ca_file=self.ca_file, verify=self.verify,
                              client_cert_file=self.client_cert_file, client_key_file=self.client_key_file,
                              server_name=self.server_name, facility=self.facility, app_name=self.app_name,
                              hostname=self.hostname)


class ChatSinkSettings(SettingsSection):
    """The chat sink (``prismaflow sink chat``). Defaults point at the local chat simulator."""

    kind: Literal["slack", "teams"] = Field(default="slack", description="slack (Block Kit) or teams (Adaptive Card)")
    webhook_url: SecretStr = Field(
        default=SecretStr("http://127.0.0.1:8282/services/T0SIM0001/B0SIM0001/simsecretsimsecretsimsecr"),
        description="Slack incoming webhook or Teams workflow URL (secret); the default is the simulator's")
    notify_tier: TierName = Field(default="critical", description="Notify risks of this tier or above")
    approval_base_url: str | None = Field(
        default=None, description="Approval page base URL; the button links to <base>/<alert id>; unset: no button")
    tracker: Literal["jira", "servicenow"] | None = Field(
        default=None, description="Link tickets of this tracker only; unset: the most recently updated ticket")
    audit: bool = Field(
        default=True, description="Record each notification in prisma.audit; a restart reads them back to stay quiet")

    def client_settings(self) -> ChatWebhookSettings:
        """The chat webhook client's settings."""
        return ChatWebhookSettings(kind=ChatKind(self.kind), url=self.webhook_url)
