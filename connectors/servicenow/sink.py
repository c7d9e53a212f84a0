"""ServiceNow as a ticket tracker for :class:`streams.tickets.TicketSink`, through the
:class:`~connectors.ports.TrackerAdapter` port.

The fingerprint is the record's ``correlation_id``; :meth:`ServiceNowTicketTracker.find` looks it
up before any create, so a record created just before a crash is adopted, not duplicated.

This module composes every text a record gets (title, description, work notes, close notes), and
each goes through :func:`processors.redaction.redact_text` on its way: no secret from an alert or
an analysis reaches the instance.
"""

from __future__ import annotations

from connectors.servicenow.client import ServiceNowClient, TicketDraft
from connectors.servicenow.settings import ServiceNowSettings
from connectors.sink_signals import sink_signals
from connectors.ports import TicketRef
from processors.analysis_text import analyser_note, display_justification, display_summary, shown_evidence
from processors.models import ScoredAlert
from processors.records import Analysis, Tracker
from processors.redaction import redact_text
from processors.tickets import TrackerStatus

__all__ = ["ServiceNowTicketTracker"]


def _analysis_section(analysis: Analysis) -> list[str]:
    """The analysis as the description's plain-text sections (the record is plain text: no markup)."""
    why = display_justification(analysis).strip()
    lines = ["", "Analysis", analyser_note(analysis), f"Summary: {display_summary(analysis)}"]
    if analysis.business_impact.strip():
        lines.append(f"Business impact: {analysis.business_impact}")
    if analysis.root_cause.strip():
        lines.append(f"Root cause: {analysis.root_cause}")
    lines.append(f"Priority {analysis.priority.value}" + (f": {why}" if why else ""))
    evidence = shown_evidence(analysis)
    if evidence:
        lines.append("Evidence:")
        lines += [f"- {e.claim} ({e.source}{': ' + e.reference if e.reference else ''})" for e in evidence]
    if analysis.remediation_steps:
        lines.append("Remediation steps:")
        for step in sorted(analysis.remediation_steps, key=lambda s: s.order):
            lines.append(f"{step.order}. {step.description}")
            if step.command.strip():
                lines.append(f"   Command: {step.command}")
            if step.iac_snippet.strip():
                lines.append("   Infrastructure as code:")
                lines += [f"      {line}" for line in step.iac_snippet.splitlines()]
    if analysis.approval_path.strip():
        lines.append(f"Recommended approval path: {analysis.approval_path}")
    return lines


def _description(scored: ScoredAlert, analysis: Analysis | None = None) -> str:
    """The record's description: the risk, and the analysis when there is one (else Prisma's recommendation)."""
    a = scored.alert
    lines = [f"Risk score {scored.score} ({scored.tier.value}) — {a.policy_name}",
             f"Resource: {a.resource.name or a.resource.resource_id} ({a.resource.resource_type}) in "
             f"{a.resource.cloud.value} account {a.resource.account_id} {a.resource.region}",
             f"Prisma Cloud alert: {a.alert_id} ({a.module.value}, severity {a.severity.value})"]
    lines += [f"- {f.name} +{f.contribution:.0f}: {f.reason}" for f in sorted(scored.factors, key=lambda f: -f.contribution)]
    if scored.incident_members:
        lines.append("Correlated findings: " + ", ".join(scored.incident_members))
    if analysis is not None:
        lines += _analysis_section(analysis)
    elif a.recommendation:
        lines.append(f"Recommendation: {a.recommendation}")
    return "\n".join(lines)


def _analysis_note(analysis: Analysis) -> str:
    why = display_justification(analysis).strip()
    lines = [f"Analysis: {display_summary(analysis)}",
             f"Root cause: {analysis.root_cause}" if analysis.root_cause.strip() else "",
             f"Priority {analysis.priority.value}" + (f": {why}" if why else ""),
             *(f"{s.order}. {s.description}" + (f"\n   {s.command}" if s.command else "")
               for s in analysis.remediation_steps),
             f"Approval: {analysis.approval_path}" if analysis.approval_path else "",
             analyser_note(analysis)]
    return "\n".join(line for line in lines if line)


class ServiceNowTicketTracker:
    tracker = Tracker.SERVICENOW

    def __init__(self, settings: ServiceNowSettings, client: ServiceNowClient | None = None) -> None:
        self.settings = settings
        self.client = client or ServiceNowClient(settings)

    def _ref(self, record: object) -> TicketRef:
        sys_id = getattr(record, "sys_id")
        return TicketRef(sys_id, self.client.record_url(record), "open")  # type: ignore[arg-type]

    async def find(self, fingerprint: str) -> TicketRef | None:
        with sink_signals():
            found = await self.client.find_by_correlation_id(fingerprint)
            return self._ref(found) if found is not None else None

    async def create(self, fingerprint: str, scored: ScoredAlert, analysis: Analysis | None) -> TicketRef:
        with sink_signals():
            a = scored.alert
            title = redact_text(f"[Prismaflow] {a.policy_name} — {a.resource.name or a.resource.resource_id}")
            draft = TicketDraft(fingerprint=fingerprint, title=title, description=redact_text(_description(scored, analysis)),
                                tier=scored.tier, team=a.enrichment.team, owner=a.enrichment.owner)
            return self._ref(await self.client.create(draft))

    async def update(self, ref: TicketRef, scored: ScoredAlert, note: str) -> None:
        with sink_signals():
            await self.client.update(ref.key, work_notes=redact_text(note), fields={
                "urgency": self.settings.urgency_by_tier[scored.tier],
                "impact": self.settings.impact_by_tier[scored.tier]})

    async def resolve(self, ref: TicketRef, note: str) -> None:
        with sink_signals():
            note = redact_text(note)
            await self.client.resolve(ref.key, close_notes=note, work_notes=note)

    async def reopen(self, ref: TicketRef, note: str) -> TicketRef:
        with sink_signals():
            await self.client.reopen(ref.key, redact_text(note))
            return ref

    async def status(self, ref: TicketRef) -> TrackerStatus:
        with sink_signals():
            record = await self.client.get(ref.key)
            states = self.settings.state_values
            done = record.state in {str(states.resolved), str(states.closed)} or not record.active
            return TrackerStatus(done=done, resolution=str(record.raw.get("close_code", "")))

    async def add_analysis(self, ref: TicketRef, analysis: Analysis) -> None:
        with sink_signals():
            await self.client.add_work_note(ref.key, redact_text(_analysis_note(analysis)))

    async def aclose(self) -> None:
        await self.client.aclose()
