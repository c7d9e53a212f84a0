"""What every Jira REST handler shares: the caller, the handler signature, body and issue lookup.

A handler raises :class:`Invalid` with the answer to give (a Jira ``ErrorCollection``) instead of
threading error returns through helpers; :meth:`JiraSimulator.endpoint` answers it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.jira.simulator.store import Issue
from connectors.jira.simulator.validation import adf_problems, jira_error, text_too_long

if TYPE_CHECKING:
    from connectors.jira.simulator.core import JiraSimulator

__all__ = ["Ctx", "Handler", "Invalid", "issue_or_404", "read_body", "rich_problem"]

NO_ISSUE = "Issue does not exist or you do not have permission to see it."
TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."


@dataclass(frozen=True)
class Ctx:
    """Who is calling and through which API version (``"2"`` or ``"3"``)."""

    user: str
    version: str


Handler = Callable[["JiraSimulator", Request, Ctx], Awaitable[Response]]
"""A REST handler: the simulator, the request and its :class:`Ctx`."""


class Invalid(Exception):
    """A request the simulated Jira refuses; ``response`` is the refusal."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def read_body(request: Request) -> Any:
    """The request's JSON; 400 when the body is not JSON."""
    try:
        return json.loads(await request.body())
    except ValueError:
        raise Invalid(jira_error(400, ["Unexpected character in the request body: not JSON."])) \
            from None


def issue_or_404(sim: JiraSimulator, key: str) -> Issue:
    """The issue with ``key`` (or id); 404 when there is none."""
    issue = sim.store.get(key)
    if issue is None:
        raise Invalid(jira_error(404, [NO_ISSUE]))
    return issue


def rich_problem(value: Any, version: str) -> str | None:
    """Why ``value`` is not rich text for API ``version`` (ADF on 3, a string on 2), or None."""
    if version == "3":
        problems = adf_problems(value)
        if problems:
            return "Operation value must be an Atlassian Document: " + problems[0]
    elif not isinstance(value, str):
        return "Operation value must be a string"
    return TOO_LONG if text_too_long(value) else None
