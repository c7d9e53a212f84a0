"""The console's desk over the approval service's API: how the service's answers become desk verdicts.

The happy path runs against the real service in test_remediation_end_to_end.py; here the service's
documented refusals (409 stale digest, 404) are answered by an httpx MockTransport that speaks the
same routes and bodies as ``streams/remediation/approval_service.py``."""

from __future__ import annotations

import argparse
import json

import httpx
import pytest
from pydantic import SecretStr

from processors.errors import ConfigurationError
from processors.remediation.desk import DeskVerdict, Vote
from streams.console.command import console_command
from streams.console.settings import ConsoleSettings
from streams.remediation.service_desk import ServiceDesk
from streams.remediation.settings import RemediationSettings


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
    assert desk.history() == []


def test_the_console_needs_the_approval_api_token_outside_demo_mode() -> None:
    args = argparse.Namespace(action="serve", demo=False)
    with pytest.raises(ConfigurationError, match="PRISMAFLOW_REMEDIATION_API_TOKEN"):
        console_command(args, ConsoleSettings(session_secret=SecretStr("s" * 32)), RemediationSettings())
