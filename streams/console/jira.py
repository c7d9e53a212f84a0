"""The Jira approval channel: a person moving a request's ticket from "Pending Approval" to
"Approved" or "Rejected" is a vote by that person's Jira account.

:func:`poll_jira_votes` is one pass: it lists the approval tickets
(:class:`connectors.jira.approvals.JiraApprovalClient`), reads each one's status changes after the
watermark, maps the account that made the change to an approver identity (the configured
``jira_approvers``; changes by anyone else are skipped and logged) and calls the desk with
``channel="jira"``. The watermark is the last changelog entry handled per ticket, so running a pass
twice, or again after a restart with the saved watermark, casts no vote twice (and the desk itself
counts one approval per approver). When an approval is recorded but the request needs more, the
ticket is moved back to "Pending Approval" so that the next approver can move it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import ConnectorError
from connectors.jira.approvals import JiraApprovalClient, StatusChange
from processors.remediation.desk import ApprovalDesk, DeskVerdict, Vote, VoteOutcome
from streams.console.settings import ConsoleSettings

__all__ = ["JiraPollResult", "JiraVoteWatermark", "poll_jira_votes", "watch_jira_votes"]

log = logging.getLogger(__name__)


class JiraVoteWatermark(BaseModel):
    """How far each ticket's changelog has been read: issue key → last history id handled."""

    model_config = ConfigDict(frozen=True)

    seen: dict[str, int] = Field(default_factory=dict)


class JiraPollResult(BaseModel):
    """What one pass did: the new watermark, the desk's answers, and changes skipped (unknown accounts)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    watermark: JiraVoteWatermark
    outcomes: list[tuple[str, VoteOutcome]] = Field(default_factory=list)
    skipped: int = 0


def _vote(change: StatusChange, settings: ConsoleSettings) -> Vote | None:
    if change.from_status != settings.jira_pending_status:
        return None
    if change.to_status == settings.jira_approved_status:
        return Vote.APPROVE
    if change.to_status == settings.jira_rejected_status:
        return Vote.REJECT
    return None


async def poll_jira_votes(jira: JiraApprovalClient, desk: ApprovalDesk, settings: ConsoleSettings,
                          watermark: JiraVoteWatermark) -> JiraPollResult:
    """One pass over the approval tickets; returns the watermark to save for the next one."""
    approvers: Mapping[str, str] = {account.lower(): who for account, who in settings.jira_approvers.items()}
    seen = dict(watermark.seen)
    outcomes: list[tuple[str, VoteOutcome]] = []
    skipped = 0
    statuses = (settings.jira_pending_status, settings.jira_approved_status, settings.jira_rejected_status)
    async for ticket in jira.approval_tickets(statuses):
        for change in await jira.status_changes(ticket.key):
            if change.history_id <= seen.get(ticket.key, 0):
                continue
            seen[ticket.key] = change.history_id
            vote = _vote(change, settings)
            if vote is None:
                continue
            approver = approvers.get(change.account_id.lower())
            if approver is None:
                skipped += 1
                log.warning("jira vote ignored reason=unknown-account issue=%s request=%s", ticket.key,
                            ticket.request_id)
                continue
            outcome = desk.decide(ticket.request_id, approver=approver, vote=vote, plan_digest=ticket.plan_digest,
                                  reason=f"moved {ticket.key} to {change.to_status} in Jira", channel="jira")
            log.info("jira vote issue=%s request=%s approver=%s vote=%s verdict=%s", ticket.key, ticket.request_id,
                     approver, vote.value, outcome.verdict.value)
            outcomes.append((ticket.key, outcome))
        await _reopen_if_more_needed(jira, ticket.key, outcomes, settings)
    return JiraPollResult(watermark=JiraVoteWatermark(seen=seen), outcomes=outcomes, skipped=skipped)


async def _reopen_if_more_needed(jira: JiraApprovalClient, key: str, outcomes: list[tuple[str, VoteOutcome]],
                                 settings: ConsoleSettings) -> None:
    """Move the ticket back to pending when its latest vote was recorded but the request needs more."""
    mine = [outcome for issue, outcome in outcomes if issue == key]
    latest = mine[-1] if mine else None
    if latest is None or latest.verdict is not DeskVerdict.RECORDED:
        return
    try:
        back = [t.name for t in await jira.get_transitions(key) if t.to_status == settings.jira_pending_status]
        if back:
            await jira.transition(key, back[:1])
    except ConnectorError as exc:  # the vote stands; people see the ticket as approved until someone moves it
        log.warning("jira reopen for another approval failed issue=%s error=%s", key, type(exc).__name__)


async def watch_jira_votes(jira: JiraApprovalClient, desk: ApprovalDesk, settings: ConsoleSettings, *,
                           watermark: JiraVoteWatermark, interval_s: float, stop: asyncio.Event,
                           save: Callable[[JiraVoteWatermark], Awaitable[None]] | None = None) -> JiraVoteWatermark:
    """Poll every ``interval_s`` until ``stop`` is set; hand each new watermark to ``save`` (where the
    caller keeps it across restarts). A pass that fails on Jira's side is logged and tried again at the
    next interval from the same watermark, so nothing is skipped. Returns the last watermark."""
    while not stop.is_set():
        try:
            result = await poll_jira_votes(jira, desk, settings, watermark)
        except ConnectorError as exc:
            log.warning("jira vote poll failed error=%s; retrying in %.0fs", type(exc).__name__, interval_s)
        else:
            if result.watermark != watermark and save is not None:
                await save(result.watermark)
            watermark = result.watermark
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except TimeoutError:
            pass
    return watermark
