"""The stream stages' sections of the settings tree: workers, ticket sync, SIEM stage, and what the
Splunk, syslog and chat sinks decide on the Kafka side.

Plain models, filled by :class:`streams.config.PrismaflowSettings` from the environment
(``PRISMAFLOW_WORKER_*``, ``PRISMAFLOW_SYNC_*``, ``PRISMAFLOW_SIEM_*``) and the secrets folder. The
sinks' options (:class:`ForwardSinkSettings`, :class:`CefSinkSettings`, :class:`ChatSinkSettings`)
share their system's prefix (``PRISMAFLOW_SPLUNK_MIN_TIER``) with the connector's own model, which is
that system's section: which risks to forward and whether to audit belong to the sink, not the client.
Stages whose own model is all an operator sets need no section here: the ticket lifecycle's section is
:class:`processors.tickets.TicketRules` itself, the analysis stage's is
:class:`streams.analysis.settings.AnalysisSettings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from processors.models import RiskTier
from processors.records import Tracker
from streams.settings import SettingsSection, default_home
from streams.static_inputs import DEFAULT_POLICY_PATH

__all__ = ["CefSinkSettings", "ChatSinkSettings", "ForwardSinkSettings", "SiemStageSettings", "SyncScheduleSettings",
           "WorkerSettings"]


class WorkerSettings(SettingsSection):
    """Identity, tuning and static inputs of a stream-core worker."""

    instance_id: str = Field(
        default="0", description="Stable, distinct per process of a stage (e.g. a pod ordinal); names its transactions")
    group_prefix: str = Field(default="prismaflow", description="Consumer group prefix; the group is <prefix>.<stage>")
    topic_prefix: str = Field(default="", description="Prefix for every topic name (side-by-side deployments, tests)")
    start_wait_s: float = Field(
        default=0.0, ge=0,
        description="How long a command waits at start for the broker to answer and a stage, sink, the sync or the "
                    "pollers for their topics, before failing with one line that names what is missing; 0 fails at "
                    "once (a console). For deployments, where the broker or the topics may come up after a worker "
                    "(the Helm chart's topics Job runs after the workers; it sets 300)")
    max_batch: int = Field(default=2000, ge=1, description="Records per poll and per transaction at most")
    poll_timeout_ms: int = Field(default=100, ge=0, description="How long a poll waits for the first record of a batch (it returns as soon as one arrives)")
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Port for /metrics, /healthz and /readyz; 0 turns it off")
    metrics_addr: str = Field(
        default="0.0.0.0", description="Address the /metrics, /healthz and /readyz endpoint listens on: every "
                                       "address by default (containers); 127.0.0.1 keeps it to the host")
    owners_file: Path | None = Field(default=None, description="Owner/asset mapping YAML (see owners.example.yaml)")
    scoring_policy_file: Path = Field(default=DEFAULT_POLICY_PATH, description="Scoring weights and tiers YAML")
    feeds_dir: Path = Field(
        default_factory=lambda: default_home() / "feeds",
        description="Folder where `prismaflow feeds refresh` writes kev-*.json and epss-*.csv.gz; default "
                    "`$PRISMAFLOW_HOME/feeds`. Workers load, feed by feed, the newest file of this folder and of "
                    "the snapshot shipped in `processors/enrich/data`")


class SyncScheduleSettings(SettingsSection):
    """When the bidirectional sync between the trackers and Prisma Cloud runs; what it does is the
    ``sync`` section, :class:`~processors.tickets.SyncPolicy` itself."""

    interval_s: float = Field(default=300.0, gt=0, description="Seconds between two passes over the open tickets")


class SiemStageSettings(SettingsSection):
    """The SIEM stage: scored alerts to ``prisma.siem.events`` (``prismaflow sink siem``)."""

    include_analyses: bool = Field(
        default=False, description="Also read prisma.analyses: analysis summaries and one follow-up event per analysis")
    max_cached: int = Field(default=10_000, ge=1, description="Alerts and analyses remembered for that (in memory)")
    redact_secrets: bool = Field(
        default=True, description="Replace secrets found in alert text with [REDACTED] (off: a SIEM cleared for raw text)")


class ForwardSinkSettings(SettingsSection):
    """A sink that forwards ``prisma.siem.events`` to a SIEM (``prismaflow sink splunk|syslog``): which
    events it forwards and whether it audits them."""

    min_tier: RiskTier = Field(default=RiskTier.LOW, description="Forward only events of this risk tier or above")
    audit: bool = Field(default=False, description="Write one audit record per forwarded batch")


class CefSinkSettings(ForwardSinkSettings):
    """The syslog sink: a forward sink whose CEF lines also link to the console and name this instance."""

    console_base_url: str | None = Field(default=None, description="Base URL for CEF request=<base>/<alert id>")
    device_external_id: str | None = Field(default=None, description="CEF deviceExternalId: this instance or tenant")


class ChatSinkSettings(SettingsSection):
    """The chat sink (``prismaflow sink chat``): which risks it notifies, what it links, whether it audits."""

    notify_tier: RiskTier = Field(default=RiskTier.CRITICAL, description="Notify risks of this tier or above")
    approval_base_url: str | None = Field(
        default=None, description="Approval page base URL; the button links to <base>/<alert id>; unset: no button")
    tracker: Tracker | None = Field(
        default=None, description="Link tickets of this tracker only; unset: the most recently updated ticket")
    audit: bool = Field(
        default=True, description="Record each notification in prisma.audit; a restart reads them back to stay quiet")
