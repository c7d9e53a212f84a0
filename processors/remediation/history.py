"""Which finished remediation requests a history listing shows, and in what order.

The console's history page offers four filters — status, alert id, and a first and last day the
request was raised on — and the approval service's ``GET /remediations/history`` takes the same
ones as query parameters. :class:`HistoryQuery` is both: the console builds one from its form, the
service from its query string, and :class:`~streams.remediation.service_desk.ServiceDesk` turns one
back into parameters, so the two sides cannot drift apart. :func:`finished_at` says when a request
left the pending state, which is the order a history is listed in (newest first).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from processors.remediation.approval import PendingRequest, RequestStatus

__all__ = ["HISTORY_LIMIT", "HistoryQuery", "finished_at"]

#: The most requests one history listing returns.
HISTORY_LIMIT = 1000


class HistoryQuery(BaseModel):
    """The filters of a history listing; an empty filter admits everything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str = Field(default="", description="Only requests in this state (approved, rejected, ...)")
    alert_id: str = Field(default="", description="Only requests for this Prisma alert id")
    since: date | None = Field(default=None, description="Only requests raised on this day or later (UTC date)")
    until: date | None = Field(default=None, description="Only requests raised on this day or earlier")
    limit: int = Field(default=100, ge=1, le=HISTORY_LIMIT, description="At most this many requests")

    def admits(self, status: str, alert_id: str, requested_at: datetime) -> bool:
        """Whether a request in ``status`` for ``alert_id`` raised at ``requested_at`` passes the filters."""
        day = requested_at.date()
        return ((not self.status or status == self.status) and (not self.alert_id or alert_id == self.alert_id)
                and (self.since is None or day >= self.since) and (self.until is None or day <= self.until))

    def params(self) -> dict[str, str]:
        """The query as URL parameters (only the filters that are set)."""
        values = {"status": self.status, "alert_id": self.alert_id,
                  "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "limit": str(self.limit)}
        return {name: value for name, value in values.items() if value}

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> HistoryQuery:
        """The query a request's parameters ask for; :class:`ValueError` names a malformed one."""
        known = {name: params[name].strip() for name in ("status", "alert_id", "since", "until", "limit")
                 if params.get(name, "").strip()}
        try:
            return cls.model_validate(known)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(problems) from None


def finished_at(state: PendingRequest) -> datetime:
    """When ``state`` left the pending state: its last approval, its rejection, its deadline (expired),
    or when it was raised (approved at once, rejected in monitor mode). A pending one: when raised."""
    request = state.request
    if state.status is RequestStatus.REJECTED and state.rejection is not None:
        return state.rejection.decided_at
    if state.status is RequestStatus.APPROVED and state.approvals:
        return max(vote.decided_at for vote in state.approvals)
    if state.status is RequestStatus.EXPIRED and request.expires_at is not None:
        return request.expires_at
    return request.requested_at
