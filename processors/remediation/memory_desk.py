"""An approval desk held in memory: the simple rule, for the console's tests and its demo mode.

It is *not* the approval service (that one keeps its state on Kafka and applies the risk-tiered
rules); it applies only what every channel must be tested against: approvals are counted per
distinct approver, a request is approved once it has ``required_approvals`` of them, one rejection
decides it, a vote must name the digest of the plan the request carries, and nothing is recorded on
a request that expired or is already decided. The clock is passed in, never read here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from processors.remediation.desk import DeskVerdict, PendingRequest, Vote, VoteOutcome

__all__ = ["InMemoryDesk", "RecordedVote"]


@dataclass(frozen=True)
class RecordedVote:
    """One vote the desk recorded, as the decision log would hold it."""

    request_id: str
    approver: str
    vote: Vote
    plan_digest: str
    reason: str
    channel: str
    at: datetime


class InMemoryDesk:
    """:class:`~processors.remediation.desk.ApprovalDesk` over a dict; ``now`` gives the time of a vote."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._requests: dict[str, PendingRequest] = {}
        self._decided_at: dict[str, datetime] = {}
        self.votes: list[RecordedVote] = []

    def add(self, request: PendingRequest) -> None:
        """Put a request on the desk (what the approval service does when a request is raised)."""
        self._requests[request.request_id] = request

    def _current(self, request: PendingRequest) -> PendingRequest:
        expired = request.status == "pending" and request.expires_at is not None and self._now() >= request.expires_at
        return request.model_copy(update={"status": "expired"}) if expired else request

    def pending(self) -> Sequence[PendingRequest]:
        current = [self._current(request) for request in self._requests.values()]
        return sorted((r for r in current if r.status == "pending"), key=lambda r: r.requested_at)

    def get(self, request_id: str) -> PendingRequest | None:
        request = self._requests.get(request_id)
        return None if request is None else self._current(request)

    def history(self, limit: int = 100) -> Sequence[PendingRequest]:
        current = [self._current(request) for request in self._requests.values()]
        done = [r for r in current if r.status != "pending"]
        done.sort(key=lambda r: self._decided_at.get(r.request_id, r.expires_at or r.requested_at), reverse=True)
        return done[:limit]

    def decide(self, request_id: str, *, approver: str, vote: Vote, plan_digest: str, reason: str,
               channel: str) -> VoteOutcome:
        request = self.get(request_id)
        if request is None:
            return VoteOutcome(verdict=DeskVerdict.REFUSED, reason="no such request")
        if request.status != "pending":
            return VoteOutcome(verdict=DeskVerdict.REFUSED, reason=f"request is {request.status}", request=request)
        if plan_digest != request.plan_digest:
            return VoteOutcome(verdict=DeskVerdict.REFUSED, reason="the plan changed since it was shown (digest differs)",
                               request=request)
        if not approver:
            return VoteOutcome(verdict=DeskVerdict.REFUSED, reason="no approver identity", request=request)
        if vote is Vote.APPROVE and approver in request.approvers:
            return VoteOutcome(verdict=DeskVerdict.REFUSED, reason=f"{approver} already approved", request=request)
        now = self._now()
        self.votes.append(RecordedVote(request_id, approver, vote, plan_digest, reason, channel, now))
        if vote is Vote.REJECT:
            updated = request.model_copy(update={"status": "rejected"})
        else:
            approvers = (*request.approvers, approver)
            status = "approved" if len(approvers) >= request.required_approvals else "pending"
            updated = request.model_copy(update={"approvers": approvers, "status": status})
        self._requests[request_id] = updated
        if updated.status == "pending":
            return VoteOutcome(verdict=DeskVerdict.RECORDED, request=updated)
        self._decided_at[request_id] = now
        return VoteOutcome(verdict=DeskVerdict.DECIDED, reason=updated.status, request=updated)
