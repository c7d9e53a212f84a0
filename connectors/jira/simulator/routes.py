"""The Jira REST route table: which handler serves which path, and which calls write.

Handlers live by resource: :mod:`.issues`, :mod:`.properties`, :mod:`.comments` (comments and
transitions) and :mod:`.search`. Each gets the simulator, the request and a :class:`Ctx` (user,
API version). Version ``3`` takes rich text as ADF documents, version ``2`` as strings (wiki
markup), like Jira Cloud and Data Center; every path is served under each version the site has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from connectors.jira.simulator import comments, issues, properties, search
from connectors.jira.simulator.handling import Handler

if TYPE_CHECKING:
    from connectors.jira.simulator.core import JiraSimulator

__all__ = ["routes"]

_TABLE: list[tuple[str, str, Handler, bool]] = [
    ("GET", "/myself", issues.myself, False),
    ("POST", "/issue", issues.create_issue, True),
    ("GET", "/issue/{key}", issues.get_issue, False),
    ("PUT", "/issue/{key}", issues.edit_issue, True),
    ("GET", "/issue/{key}/properties", properties.list_properties, False),
    ("PUT", "/issue/{key}/properties/{prop}", properties.put_property, True),
    ("GET", "/issue/{key}/properties/{prop}", properties.get_property, False),
    ("DELETE", "/issue/{key}/properties/{prop}", properties.delete_property, True),
    ("POST", "/issue/{key}/comment", comments.add_comment, True),
    ("GET", "/issue/{key}/comment", comments.list_comments, False),
    ("GET", "/issue/{key}/transitions", comments.get_transitions, False),
    ("POST", "/issue/{key}/transitions", comments.do_transition, True),
    ("GET", "/search", search.legacy_search, False),
    ("POST", "/search", search.legacy_search, False),
]
_CLOUD_ONLY: list[tuple[str, str, Handler, bool]] = [
    # Data Center has no paged changelog route (it expands ``changelog`` on the issue instead).
    ("GET", "/issue/{key}/changelog", comments.get_changelog, False),
    ("GET", "/search/jql", search.search_jql, False),
    ("POST", "/search/jql", search.search_jql, False),
    ("POST", "/search/approximate-count", search.approximate_count, False),
]


def routes(sim: JiraSimulator) -> list[Route]:
    """Every REST route of the simulated site, for each API version it serves."""
    table = _TABLE + (_CLOUD_ONLY if sim.config.flavour == "cloud" else [])
    return [sim.endpoint(method, f"/rest/api/{v}{path}", handler, version=v, write=write)
            for v in sim.versions for method, path, handler, write in table]
