"""The stream stages' sections of the settings tree: workers, ticket sync, SIEM stage.

Plain models, filled by :class:`streams.config.PrismaflowSettings` from the environment
(``PRISMAFLOW_WORKER_*``, ``PRISMAFLOW_SYNC_*``, ``PRISMAFLOW_SIEM_*``) and
the secrets folder. Stages whose own model is all an operator sets need no section here: the ticket
lifecycle's section is :class:`processors.tickets.TicketRules` itself, the analysis stage's is
:class:`streams.analysis.settings.AnalysisStageSettings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from processors.tickets import SyncPolicy
from streams.settings import SettingsSection, default_home
from streams.static_inputs import DEFAULT_POLICY_PATH

__all__ = ["SiemStageSettings", "SyncEnvSettings", "WorkerSettings"]


class WorkerSettings(SettingsSection):
    """Identity, tuning and static inputs of a stream-core worker."""

    instance_id: str = Field(
        default="0", description="Stable, distinct per process of a stage (e.g. a pod ordinal); names its transactions")
    group_prefix: str = Field(default="prismaflow", description="Consumer group prefix; the group is <prefix>.<stage>")
    topic_prefix: str = Field(default="", description="Prefix for every topic name (side-by-side deployments, tests)")
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


class SyncEnvSettings(SettingsSection):
    """Bidirectional sync between the trackers and Prisma Cloud: how often it runs, and the part of its
    :class:`~processors.tickets.SyncPolicy` an operator sets (default and description read from it)."""

    interval_s: float = Field(default=300.0, gt=0, description="Seconds between two passes over the open tickets")
    dismiss_on_accepted_risk: bool = Field(
        default=SyncPolicy.model_fields["dismiss_on_accepted_risk"].default,
        description=SyncPolicy.model_fields["dismiss_on_accepted_risk"].description)

    def policy(self) -> SyncPolicy:
        """The sync's :class:`~processors.tickets.SyncPolicy`: this value, its defaults for the rest."""
        return SyncPolicy(dismiss_on_accepted_risk=self.dismiss_on_accepted_risk)


class SiemStageSettings(SettingsSection):
    """The SIEM stage: scored alerts to ``prisma.siem.events`` (``prismaflow sink siem``)."""

    include_analyses: bool = Field(
        default=False, description="Also read prisma.analyses: analysis summaries and one follow-up event per analysis")
    max_cached: int = Field(default=10_000, ge=1, description="Alerts and analyses remembered for that (in memory)")
    redact_secrets: bool = Field(
        default=True, description="Replace secrets found in alert text with [REDACTED] (off: a SIEM cleared for raw text)")
