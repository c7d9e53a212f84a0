"""A simulated Jira Cloud site with the approval workflow, people who click in it, and request tickets."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from connectors.base import RetryPolicy
from connectors.jira.adf.nodes import doc, paragraph
from connectors.jira.approvals import APPROVAL_LABEL, REQUEST_PROPERTY, JiraApprovalClient
from connectors.jira.models import IssueDraft
from connectors.jira.settings import BasicAuth, JiraSettings
from connectors.jira.simulator import JiraSimulator, SimClock, SimConfig, approval_workflow
from processors.remediation.desk import PendingRequest

SITE = "https://prismaflow-sim.atlassian.net"
PEOPLE = {"bot@example.com": "sim-api-token", "alice@example.com": "alice-token",
          "bob@example.com": "bob-token", "mallory@example.com": "mallory-token"}


@dataclass
class JiraSite:
    sim: JiraSimulator
    http: httpx.AsyncClient
    jira: JiraApprovalClient

    async def raise_ticket(self, request: PendingRequest) -> str:
        """What the approval service does for a request: a labelled ticket with the request property,
        moved to Pending Approval."""
        created = await self.jira.create_issue(IssueDraft(
            project_key="SEC", issue_type="Task", summary=f"Approve {request.request_id}",
            description=doc([paragraph(request.plan.summary)]), labels=(APPROVAL_LABEL,)))
        await self.jira.set_property(created.key, REQUEST_PROPERTY,
                                     {"request_id": request.request_id, "plan_digest": request.plan_digest})
        await self.jira.transition(created.key, ["Request Approval"])
        return created.key

    async def move(self, person: str, key: str, transition: str) -> None:
        """``person`` clicks ``transition`` on the ticket in Jira's UI (the same REST call)."""
        auth = "Basic " + base64.b64encode(f"{person}:{PEOPLE[person]}".encode()).decode()
        headers = {"Authorization": auth}
        listed = await self.http.get(f"{SITE}/rest/api/3/issue/{key}/transitions", headers=headers)
        [chosen] = [t["id"] for t in listed.json()["transitions"] if t["name"] == transition]
        answer = await self.http.post(f"{SITE}/rest/api/3/issue/{key}/transitions", headers=headers,
                                      json={"transition": {"id": chosen}})
        assert answer.status_code == 204, answer.text

    async def status(self, key: str) -> str:
        return (await self.jira.get_issue(key)).status


def jira_site(http: httpx.AsyncClient, sim: JiraSimulator) -> JiraSite:
    settings = JiraSettings(base_url=SITE, auth=BasicAuth(email="bot@example.com", api_token=SecretStr("sim-api-token")),
                            project_key="SEC", retry=RetryPolicy(max_attempts=1))  # failures reach the poller at once
    return JiraSite(sim, http, JiraApprovalClient(settings, client=http))


def approval_sim() -> JiraSimulator:
    return JiraSimulator(config=SimConfig(base_url=SITE, users=dict(PEOPLE), rate_limits=False),
                         clock=SimClock(base=lambda: 1_765_098_000.0), workflow=approval_workflow())
