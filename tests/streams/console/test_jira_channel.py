"""The Jira approval channel against the Jira simulator (Cloud, approval workflow): people move a
request's ticket from Pending Approval to Approved or Rejected, the poller reads the changelog and
votes as them; unknown accounts are skipped; a second pass casts nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.jira.approvals import JiraApprovalClient
from processors.remediation.desk import DeskVerdict, PendingRequest
from processors.remediation.memory_desk import InMemoryDesk
from streams.console.jira import JiraVoteWatermark, poll_jira_votes, watch_jira_votes
from streams.console.settings import ConsoleSettings
from tests.streams.console.desk_factory import desk_with, make_request
from tests.streams.console.jira_site import JiraSite, approval_sim, jira_site

SETTINGS = ConsoleSettings(jira_approvers={"alice@example.com": "alice", "bob@example.com": "bob"})


@pytest.fixture
async def site() -> AsyncIterator[JiraSite]:
    sim = approval_sim()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim)) as http:
        yield jira_site(http, sim)


async def _moved(site: JiraSite, request: PendingRequest, account: str,
                 transition: str) -> tuple[InMemoryDesk, str]:
    """A desk holding ``request`` pending, whose ticket ``account`` then moved with ``transition``;
    and the ticket's key."""
    desk = desk_with(request)
    key = await site.raise_ticket(request)
    await site.move(account, key, transition)
    return desk, key


async def test_the_changelog_names_who_moved_the_ticket_where(site: JiraSite) -> None:
    key = await site.raise_ticket(make_request())
    await site.move("alice@example.com", key, "Approve")
    changes = await site.jira.status_changes(key)
    assert [(c.account_id, c.from_status, c.to_status) for c in changes] == [
        ("bot@example.com", "To Do", "Pending Approval"), ("alice@example.com", "Pending Approval", "Approved")]
    assert changes[0].history_id < changes[1].history_id
    [ticket] = [t async for t in site.jira.approval_tickets(["Pending Approval", "Approved", "Rejected"])]
    assert (ticket.key, ticket.status, ticket.request_id) == (key, "Approved", "req-1")


async def test_two_people_approve_in_turn_and_a_second_pass_votes_nothing_twice(site: JiraSite) -> None:
    desk, key = await _moved(site, make_request("req-prod", required=2), "alice@example.com", "Approve")
    first = await poll_jira_votes(site.jira, desk, SETTINGS, JiraVoteWatermark())
    assert [o.verdict for _, o in first.outcomes] == [DeskVerdict.RECORDED]
    assert await site.status(key) == "Pending Approval"  # moved back: the request needs another approver
    again = await poll_jira_votes(site.jira, desk, SETTINGS, first.watermark)
    assert again.outcomes == [] and len(desk.votes) == 1
    await site.move("bob@example.com", key, "Approve")
    second = await poll_jira_votes(site.jira, desk, SETTINGS, again.watermark)
    assert [(o.verdict, o.reason) for _, o in second.outcomes] == [(DeskVerdict.DECIDED, "approved")]
    assert [(v.approver, v.channel) for v in desk.votes] == [("alice", "jira"), ("bob", "jira")]
    assert await site.status(key) == "Approved"


async def test_the_same_transition_read_again_from_scratch_is_one_vote(site: JiraSite) -> None:
    desk, key = await _moved(site, make_request("req-prod", required=2), "alice@example.com", "Approve")
    await poll_jira_votes(site.jira, desk, SETTINGS, JiraVoteWatermark())
    replay = await poll_jira_votes(site.jira, desk, SETTINGS, JiraVoteWatermark())  # watermark lost
    assert [o.verdict for _, o in replay.outcomes] == [DeskVerdict.REFUSED]
    assert len(desk.votes) == 1


async def test_a_rejection_in_jira_rejects(site: JiraSite) -> None:
    desk, key = await _moved(site, make_request("req-dev", required=1), "bob@example.com", "Reject")
    result = await poll_jira_votes(site.jira, desk, SETTINGS, JiraVoteWatermark())
    assert [(o.verdict, o.reason) for _, o in result.outcomes] == [(DeskVerdict.DECIDED, "rejected")]
    assert desk.votes[0].reason == f"moved {key} to Rejected in Jira"


async def test_a_transition_by_an_unmapped_account_is_not_a_vote(site: JiraSite) -> None:
    desk, key = await _moved(site, make_request("req-dev", required=1), "mallory@example.com", "Approve")
    result = await poll_jira_votes(site.jira, desk, SETTINGS, JiraVoteWatermark())
    assert (result.outcomes, result.skipped, desk.votes) == ([], 1, [])
    assert result.watermark.seen[key] > 0  # read, so it is not looked at again


async def test_tickets_without_the_request_property_are_not_counted(site: JiraSite) -> None:
    client: JiraApprovalClient = site.jira
    key = await site.raise_ticket(make_request())
    await client.set_property(key, "prismaflow.remediation", {"something": "else"})
    assert [t async for t in client.approval_tickets(["Pending Approval"])] == []


async def test_the_watcher_keeps_polling_through_a_jira_outage_and_saves_each_new_watermark(
        site: JiraSite, caplog: pytest.LogCaptureFixture) -> None:
    from connectors.jira.simulator import Fault

    request = make_request("req-dev", required=1)
    desk = desk_with(request)
    key = await site.raise_ticket(request)
    site.sim.add_fault(Fault(kind="5xx", status=503, route="/rest/api/3/search/jql", count=10))
    saved: list[JiraVoteWatermark] = []
    stop = asyncio.Event()

    async def save(watermark: JiraVoteWatermark) -> None:
        saved.append(watermark)
        stop.set()

    async def outage_then_vote() -> None:
        await asyncio.sleep(0.05)
        site.sim.fault_book.clear()
        await site.move("bob@example.com", key, "Reject")

    watcher = asyncio.create_task(watch_jira_votes(site.jira, desk, SETTINGS, watermark=JiraVoteWatermark(),
                                                   interval_s=0.02, stop=stop, save=save))
    await outage_then_vote()
    last = await asyncio.wait_for(watcher, timeout=10)
    assert saved and saved[-1] == last and last.seen[key] > 0
    assert [(v.approver, v.vote.value) for v in desk.votes] == [("bob", "reject")]
    assert "jira vote poll failed" in caplog.text  # the outage was met, and outlived
