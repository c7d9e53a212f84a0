"""Jira as a ticket tracker for :class:`streams.tickets.TicketSink`, through the
:class:`~connectors.ports.TrackerAdapter` port.

Adapts :class:`JiraClient` to the port :class:`~connectors.ports.TrackerAdapter`: the fingerprint
travels as a label (and the sync property) set in the create request itself, so
:meth:`JiraTicketTracker.find` finds an issue created just before a crash.
"""

from __future__ import annotations

from connectors.jira.adf.documents import text_comment
from connectors.jira.adf.nodes import Node
from connectors.jira.client import JiraClient
from connectors.jira.models import SyncProperty
from connectors.jira.settings import JiraSettings
from connectors.jira.tickets import draft_issue
from connectors.jira.wiki import to_wiki
from connectors.sink_signals import sink_signals
from connectors.ports import TicketRef
from processors.analysis_text import analyser_note, display_justification, display_summary
from processors.models import ScoredAlert
from processors.records import Analysis, Tracker
from processors.tickets import TrackerStatus

__all__ = ["JiraTicketTracker"]


class JiraTicketTracker:
    tracker = Tracker.JIRA

    def __init__(self, settings: JiraSettings, client: JiraClient | None = None) -> None:
        self.settings = settings
        self.client = client or JiraClient(settings)

    def _comment(self, lines: list[str], title: str) -> Node | str:
        """A comment in the site's flavour: ADF on Cloud, wiki markup on Data Center (which refuses ADF)."""
        document = text_comment([line for line in lines if line], title=title)
        return document if self.settings.uses_adf else to_wiki(document)

    def _ref(self, key: str, status: str = "open") -> TicketRef:
        return TicketRef(key, self.settings.browse_url(key), status)

    async def find(self, fingerprint: str) -> TicketRef | None:
        with sink_signals():
            issue = await self.client.find_by_fingerprint(fingerprint)
            if issue is None:
                return None
            return self._ref(issue.key, "resolved" if issue.status_category == "done" else "open")

    async def create(self, fingerprint: str, scored: ScoredAlert, analysis: Analysis | None) -> TicketRef:
        with sink_signals():
            draft = draft_issue(scored, analysis, self.settings, fingerprint=fingerprint)
            created = await self.client.create_issue(
                draft, sync=SyncProperty(fingerprint=fingerprint, alert_ids=[scored.alert.alert_id]))
            return self._ref(created.key)

    async def update(self, ref: TicketRef, scored: ScoredAlert, note: str) -> None:
        with sink_signals():
            await self.client.add_comment(ref.key, self._comment(note.splitlines(), "Prismaflow"))
            await self.client.update_issue(ref.key, priority=self.settings.priority_name(scored.tier))

    async def resolve(self, ref: TicketRef, note: str) -> None:
        with sink_signals():
            await self.client.resolve(ref.key, comment=self._comment([note], "Prismaflow"))

    async def reopen(self, ref: TicketRef, note: str) -> TicketRef:
        with sink_signals():
            await self.client.reopen(ref.key, comment=self._comment([note], "Prismaflow"))
            return self._ref(ref.key)

    async def status(self, ref: TicketRef) -> TrackerStatus:
        with sink_signals():
            issue = await self.client.get_issue(ref.key)
            return TrackerStatus(done=issue.is_done, resolution=issue.resolution or "")

    async def add_analysis(self, ref: TicketRef, analysis: Analysis) -> None:
        with sink_signals():
            why = display_justification(analysis).strip()
            lines = [display_summary(analysis),
                     f"Root cause: {analysis.root_cause}" if analysis.root_cause.strip() else "",
                     f"Priority {analysis.priority.value}" + (f": {why}" if why else ""),
                     *(f"{step.order}. {step.description}" + (f" — {step.command}" if step.command else "")
                       for step in analysis.remediation_steps),
                     f"Approval: {analysis.approval_path}" if analysis.approval_path else "",
                     analyser_note(analysis)]
            await self.client.add_comment(ref.key, self._comment(lines, "Analysis"))

    async def aclose(self) -> None:
        await self.client.aclose()
