"""The console's desk over the approval service's API: how the service's answers become desk verdicts.

The happy path runs against the real service in test_remediation_end_to_end.py; here the service's
documented refusals (409 stale digest, 404) are answered by an httpx MockTransport that speaks the
same routes and bodies as ``streams/remediation/approval_service.py``."""

from __future__ import annotations

import argparse
import json
from datetime import date

import httpx
import pytest
from pydantic import SecretStr

from processors.errors import ConfigurationError
from processors.remediation.desk import DeskVerdict, Vote
from processors.remediation.history import HistoryQuery
from streams.console.command import approvals_url, console_command
from streams.console.settings import ConsoleSettings
from streams.remediation.service_desk import ServiceDesk
from streams.remediation.settings import RemediationSettings
from tests.streams.console.desk_factory import make_plan


def _service(request: httpx.Request) -> httpx.Response:
    assert request.headers["Authorization"] == "Bearer api-token"
    if request.url.path == "/remediations/req-1/decisions":
        body = json.loads(request.content)
        if body["plan_digest"] != "d" * 64:
            return httpx.Response(409, json={"error": "the plan changed since it was shown: plan_digest differs"})
    return httpx.Response(404, json={"error": "no such request"})


def test_a_refused_vote_says_why_and_an_unknown_request_is_none() -> None:
    desk = ServiceDesk("http://approvals", "api-token",
                       client=httpx.Client(base_url="http://approvals", transport=httpx.MockTransport(_service)))
    outcome = desk.decide("req-1", approver="alice", vote=Vote.APPROVE, plan_digest="e" * 64, reason="", channel="console")
    assert outcome.verdict is DeskVerdict.REFUSED and "plan_digest differs" in outcome.reason
    assert desk.get("req-2") is None


def test_history_asks_the_service_with_the_consoles_filters_and_reads_its_requests() -> None:
    plan = make_plan()
    asked: list[httpx.QueryParams] = []

    def history(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer api-token"
        assert request.url.path == "/remediations/history"
        asked.append(request.url.params)
        return httpx.Response(200, json={"history": [{
            "request_id": "req-9", "alert_id": plan.alert_id, "plan": plan.model_dump_json(),
            "plan_digest": plan.digest(), "required_approvals": 2, "approvals": ["alice", "bob"],
            "status": "approved", "requested_at": "2026-12-07T09:00:00+00:00", "expires_at": None,
            "decided_at": "2026-12-07T10:00:00+00:00", "summary": "s", "change_risk": "medium",
            "touches_iam": False, "environment": "prod"}]})

    desk = ServiceDesk("http://approvals", "api-token",
                       client=httpx.Client(base_url="http://approvals", transport=httpx.MockTransport(history)))
    (shown,) = desk.history(limit=20, query=HistoryQuery(status="approved", since=date(2026, 12, 1)))
    assert (shown.request_id, shown.status, shown.approvers, shown.plan) == ("req-9", "approved", ("alice", "bob"), plan)
    assert dict(asked[0]) == {"status": "approved", "since": "2026-12-01", "limit": "20"}
    desk.history(limit=5000)
    assert asked[1]["limit"] == "1000"  # the service's cap


def test_the_console_needs_the_approval_api_token_outside_demo_mode() -> None:
    args = argparse.Namespace(action="serve", demo=False)
    with pytest.raises(ConfigurationError, match="PRISMAFLOW_REMEDIATION_API_TOKEN"):
        console_command(args, ConsoleSettings(session_secret=SecretStr("s" * 32)), RemediationSettings())


def test_the_console_reaches_the_approval_service_at_its_configured_url_else_at_the_services_own_address() -> None:
    remote = ConsoleSettings(approvals_url="http://pf-prismaflow-approvals:6066")
    assert approvals_url(remote, RemediationSettings(service_port=7000)) == "http://pf-prismaflow-approvals:6066"
    assert approvals_url(ConsoleSettings(), RemediationSettings(service_port=7000)) == "http://127.0.0.1:7000"
