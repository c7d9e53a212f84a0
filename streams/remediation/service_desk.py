"""The approval desk the channels use in production: the approval service's web API.

:class:`ServiceDesk` implements :class:`processors.remediation.desk.ApprovalDesk` over
``GET /remediations/pending``, ``GET /remediations/{id}``, ``GET /remediations/history`` and ``POST
/remediations/{id}/decisions`` (bearer token). The console, the Slack buttons and the Jira channel call it; the service signs each
vote and puts it on the decision log, where its decisions agent counts it. A vote is therefore
*recorded* when the service accepts it (202) and counted moments later; the service's refusals
(409: stale plan digest or request no longer pending; 404; 400) come back as REFUSED with its reason.
:meth:`history` asks the service for its finished requests, newest first, with the console's filters
(:class:`~processors.remediation.history.HistoryQuery`) applied by the service.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from processors.remediation.desk import DeskVerdict, PendingRequest, Vote, VoteOutcome
from processors.remediation.history import HISTORY_LIMIT, HistoryQuery
from processors.remediation.plan import RemediationPlan

__all__ = ["ServiceDesk", "from_view"]

log = logging.getLogger(__name__)


def from_view(view: dict[str, Any]) -> PendingRequest:
    """A desk request from the service's JSON view of one request."""
    plan = RemediationPlan.model_validate_json(view["plan"])
    return PendingRequest(
        request_id=view["request_id"], alert_id=view["alert_id"], plan=plan, plan_digest=view["plan_digest"],
        required_approvals=int(view["required_approvals"]), approvers=tuple(view.get("approvals") or ()),
        status=view["status"], requested_at=datetime.fromisoformat(view["requested_at"]),
        expires_at=datetime.fromisoformat(view["expires_at"]) if view.get("expires_at") else None,
        analysis_summary=view.get("summary") or "",
        risk_factors=tuple(f for f in (f"change risk {view.get('change_risk')}",
                                       "touches IAM" if view.get("touches_iam") else "",
                                       f"environment {view.get('environment')}") if f),
        terraform_diff="\n\n".join(a.terraform for a in plan.actions if a.terraform))


class ServiceDesk:
    """:class:`ApprovalDesk` over the approval service's web API (module docstring)."""

    def __init__(self, base_url: str, api_token: str, *, client: httpx.Client | None = None,
                 timeout_s: float = 10.0) -> None:
        if not api_token:
            raise ValueError("the approval API needs its bearer token")
        self._http = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self._auth = {"Authorization": f"Bearer {api_token}"}

    def pending(self) -> Sequence[PendingRequest]:
        response = self._http.get("/remediations/pending", headers=self._auth)
        response.raise_for_status()
        return [from_view(view) for view in response.json()["pending"]]

    def get(self, request_id: str) -> PendingRequest | None:
        response = self._http.get(f"/remediations/{request_id}", headers=self._auth)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return from_view(response.json())

    def history(self, limit: int = 100, *, query: HistoryQuery | None = None) -> Sequence[PendingRequest]:
        """Finished requests, newest first: ``query``'s filters (none: all), at most ``limit``."""
        query = (query or HistoryQuery()).model_copy(update={"limit": max(1, min(limit, HISTORY_LIMIT))})
        response = self._http.get("/remediations/history", headers=self._auth, params=query.params())
        response.raise_for_status()
        return [from_view(view) for view in response.json()["history"]]

    def decide(self, request_id: str, *, approver: str, vote: Vote, plan_digest: str, reason: str,
               channel: str) -> VoteOutcome:
        body = {"approver": approver, "decision": "approved" if vote is Vote.APPROVE else "rejected",
                "reason": reason, "plan_digest": plan_digest}
        response = self._http.post(f"/remediations/{request_id}/decisions", headers=self._auth, json=body)
        log.info("vote sent to the approval service request_id=%s approver=%s vote=%s channel=%s status=%d",
                 request_id, approver, vote.value, channel, response.status_code)
        if response.status_code == 202:
            return VoteOutcome(verdict=DeskVerdict.RECORDED, reason="on the decision log", request=self.get(request_id))
        try:
            why = str(response.json().get("error") or response.text)
        except ValueError:
            why = response.text
        return VoteOutcome(verdict=DeskVerdict.REFUSED, reason=why[:300] or f"HTTP {response.status_code}")

    def close(self) -> None:
        self._http.close()
