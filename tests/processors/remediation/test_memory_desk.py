"""The in-memory desk applies the simple rule the channels are tested against: distinct approvers,
the required count, the plan digest, expiry, one rejection decides, nothing after a decision."""

from __future__ import annotations

from datetime import timedelta

from processors.remediation.desk import DeskVerdict, Vote, VoteOutcome
from processors.remediation.memory_desk import InMemoryDesk
from tests.streams.console.desk_factory import Clock, desk_with, make_request


def _vote(desk: InMemoryDesk, request_id: str, who: str, vote: Vote = Vote.APPROVE,
          digest: str | None = None) -> VoteOutcome:
    request = desk.get(request_id)
    assert request is not None
    return desk.decide(request_id, approver=who, vote=vote, plan_digest=digest or request.plan_digest,
                       reason="r", channel="test")


def test_two_distinct_approvals_approve_and_the_same_person_twice_is_refused() -> None:
    desk = desk_with(make_request("r", required=2))
    assert _vote(desk, "r", "alice").verdict is DeskVerdict.RECORDED
    again = _vote(desk, "r", "alice")
    assert again.verdict is DeskVerdict.REFUSED and "already approved" in again.reason
    done = _vote(desk, "r", "bob")
    assert (done.verdict, done.reason, done.request.approvers) == (DeskVerdict.DECIDED, "approved",  # type: ignore[union-attr]
                                                                   ("alice", "bob"))
    assert [r.request_id for r in desk.history()] == ["r"] and desk.pending() == []


def test_a_rejection_decides_and_nothing_is_recorded_after_a_decision() -> None:
    desk = desk_with(make_request("r", required=2))
    assert _vote(desk, "r", "alice", Vote.REJECT).reason == "rejected"
    late = _vote(desk, "r", "bob")
    assert late.verdict is DeskVerdict.REFUSED and len(desk.votes) == 1


def test_a_stale_digest_an_unknown_request_and_an_expired_request_are_refused() -> None:
    clock = Clock()
    desk = desk_with(make_request("r", required=1, expires_in=timedelta(hours=1)), clock=clock)
    assert _vote(desk, "r", "alice", digest="f" * 64).verdict is DeskVerdict.REFUSED
    assert desk.decide("nope", approver="a", vote=Vote.APPROVE, plan_digest="x", reason="",
                       channel="t").verdict is DeskVerdict.REFUSED
    clock.advance(hours=2)
    assert desk.get("r").status == "expired"  # type: ignore[union-attr]
    assert _vote(desk, "r", "alice").reason == "request is expired"
    assert desk.votes == []
