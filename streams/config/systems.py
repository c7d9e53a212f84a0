"""How the outside systems' own models bind to the environment: Prisma Cloud, feeds, Jira, ServiceNow,
Splunk, syslog, chat, the LLM endpoint.

The tree's sections for these systems are the connectors' own settings models
(:class:`~connectors.prisma.settings.PrismaSettings`, :class:`~connectors.jira.settings.JiraSettings`
...), not copies: :class:`streams.config.PrismaflowSettings` reads each from its prefix
(``PRISMAFLOW_PRISMA_*``, ``PRISMAFLOW_JIRA_*`` ...). What this module adds is the binding a
deployment needs and a connector should not know: the variable names that differ from the field
names (``*_NAMES``: field to name after the prefix, kept as the README has always documented them) and
the defaults that differ from the connector's (``*_DEFAULTS``: the local simulators' addresses and
credentials, so that a bare checkout runs against them). Every other default is the connector's own.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from connectors.slack.client import ChatKind
from processors.models import RiskTier

__all__ = ["CHAT_DEFAULTS", "CHAT_NAMES", "FEED_NAMES", "JIRA_DEFAULTS", "LLM_DEFAULTS", "PRISMA_DEFAULTS", "PRISMA_NAMES",
           "SERVICENOW_DEFAULTS", "SPLUNK_DEFAULTS", "SYSLOG_DEFAULTS", "SYSLOG_SINK_DEFAULTS"]

#: ``PRISMAFLOW_PRISMA_*``: :class:`~connectors.prisma.settings.PrismaSettings`, whose key pair is named as
#: Prisma Cloud's console names it (access key ID and secret key), by default the local simulator's.
PRISMA_NAMES = {"username": "access_key_id", "password": "secret_key"}
PRISMA_DEFAULTS: dict[str, Any] = {"api_url": "http://127.0.0.1:8181", "compute_url": "http://127.0.0.1:8181",
                                   "username": "sim-access-key", "password": SecretStr("sim-secret-key")}
#: ``PRISMAFLOW_FEEDS_*``: :class:`~connectors.feeds.settings.FeedSettings`; its download timeout is ``TIMEOUT_S``.
FEED_NAMES = {"request_timeout_s": "timeout_s"}
#: ``PRISMAFLOW_JIRA_*``: :class:`~connectors.jira.settings.JiraSettings`, by default the local Jira
#: simulator with basic auth (``PRISMAFLOW_JIRA_BEARER_TOKEN`` switches to bearer auth).
JIRA_DEFAULTS: dict[str, Any] = {"base_url": "http://127.0.0.1:8281", "email": "bot@example.com",
                                 "api_token": SecretStr("sim-api-token")}
#: ``PRISMAFLOW_SERVICENOW_*``: :class:`~connectors.servicenow.settings.ServiceNowSettings`, by default
#: the local ServiceNow simulator with basic auth (``PRISMAFLOW_SERVICENOW_BEARER_TOKEN``: OAuth).
SERVICENOW_DEFAULTS: dict[str, Any] = {"instance_url": "http://127.0.0.1:8282", "username": "prismaflow",
                                       "password": SecretStr("sim-password")}
#: ``PRISMAFLOW_LLM_*``: :class:`~connectors.llm.settings.LlmSettings`, the analysis stage's endpoint; without
#: ``PRISMAFLOW_LLM_API_KEY`` the stage analyses offline (the gates are
#: :class:`~streams.analysis.settings.AnalysisSettings`, same prefix).
LLM_DEFAULTS: dict[str, Any] = {"model": "gpt-4o-mini"}
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

