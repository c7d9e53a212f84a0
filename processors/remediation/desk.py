"""The approval desk: the one port every approval channel talks to.

The web console, Slack's interactive buttons and the Jira transition watcher are channels: each
authenticates a person, shows them a pending request and turns their click into a call of
:meth:`ApprovalDesk.decide`. The desk (the approval service) checks the call against the request's
state and the risk-tiered rule, writes the decision to the one decision log
(``prisma.remediations.decisions``) and answers what became of it. Channels never write decisions
themselves, so every channel is held to the same rules.

A decision names the plan digest the person saw (:meth:`processors.remediation.plan.RemediationPlan.digest`):
if the request's plan changed in between, the desk refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from processors.remediation.plan import RemediationPlan

__all__ = ["ApprovalDesk", "DeskVerdict", "PendingRequest", "Vote", "VoteOutcome"]


class Vote(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PendingRequest(_Value):
    """A remediation request as a channel shows it to an approver."""

    request_id: str
    alert_id: str
    plan: RemediationPlan
    plan_digest: str
    required_approvals: int = Field(ge=0)
    approvers: tuple[str, ...] = Field(default=(), description="Who approved so far (distinct identities)")
    status: str = Field(description="pending, approved, rejected, expired or executed")
    requested_at: datetime
    expires_at: datetime | None = None
    analysis_summary: str = ""
    evidence: tuple[str, ...] = ()
    risk_factors: tuple[str, ...] = ()
    terraform_diff: str = ""


class DeskVerdict(str, Enum):
    RECORDED = "recorded"  # the vote is on the decision log; the request may still need more approvals
    DECIDED = "decided"  # the vote completed the request: approved (enough approvals) or rejected
    REFUSED = "refused"  # not recorded: see the reason (stale digest, expired, already decided, same approver twice, no right)


class VoteOutcome(_Value):
    verdict: DeskVerdict
    reason: str = ""
    request: PendingRequest | None = None


class ApprovalDesk(Protocol):
    """What an approval channel needs from the approval service."""

    def pending(self) -> Sequence[PendingRequest]:
        """Requests waiting for a decision, oldest first."""
        ...

    def get(self, request_id: str) -> PendingRequest | None:
        """One request in any state, or None."""
        ...

    def history(self, limit: int = 100) -> Sequence[PendingRequest]:
        """Decided, expired and executed requests, newest first."""
        ...

    def decide(self, request_id: str, *, approver: str, vote: Vote, plan_digest: str, reason: str,
               channel: str) -> VoteOutcome:
        """Record ``approver``'s vote on the plan they saw (``plan_digest``) through ``channel``
        (console, slack, jira)."""
        ...
