"""The CSPM route table: which handler serves which path, with which auth and rate limit.

Handlers live by resource: :mod:`.cspm_auth` (login), :mod:`.cspm_alerts` (listing and reads),
:mod:`.cspm_actions` (dismiss, reopen, remediation), :mod:`.cspm_search` (resources, RQL),
:mod:`.cspm_permissions` (the CIEM IAM permission search). Errors
follow the reference (section 8.1): an empty body and the detail in ``x-redlock-status``
(``[{"i18nKey": ..., "severity": "error", "subject": ...}]``). Where the reference leaves the exact
i18nKey open (expired page token, unsupported RQL) the choice is marked [INFERRED].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.prisma.simulator import cspm_actions, cspm_alerts, cspm_auth, cspm_permissions, cspm_search
from connectors.prisma.simulator.answers import Handler, cspm_error
from connectors.prisma.simulator.query import QueryError
from connectors.prisma.simulator.runtime import RateSpec

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["routes"]


def _guarded(handler: Handler) -> Handler:
    """``handler`` with a rejected query (:class:`QueryError`) answered as a CSPM 400."""
    async def run(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
        try:
            return await handler(sim, request, user)
        except QueryError as exc:
            return cspm_error(400, exc.i18n_key, exc.subject)
    return run


def routes(sim: PrismaCloudSimulator) -> list[Route]:
    """All CSPM routes bound to ``sim``."""
    cfg = sim.config
    table: list[tuple[str, str, Handler, str | None, RateSpec | None]] = [
        ("POST", "/login", cspm_auth.login, None, None),
        ("GET", "/auth_token/extend", cspm_auth.extend, None, None),
        ("POST", "/v2/alert", cspm_alerts.list_post, "cspm", cfg.alert_list_rate),
        ("GET", "/v2/alert", cspm_alerts.list_get, "cspm", cfg.alert_list_rate),
        ("GET", "/alert/count/{status}", cspm_alerts.count, "cspm", None),
        ("POST", "/alert/dismiss", cspm_actions.dismiss, "cspm", None),
        ("POST", "/alert/reopen", cspm_actions.reopen, "cspm", None),
        ("POST", "/alert/remediation", cspm_actions.remediation_cli, "cspm", None),
        ("PATCH", "/alert/remediation/{id}", cspm_actions.remediate, "cspm", None),
        ("GET", "/alert/{id}", cspm_alerts.get_alert, "cspm", cfg.alert_get_rate),
        ("POST", "/resource", cspm_search.resource, "cspm", None),
        ("POST", "/search/config", cspm_search.search_config, "cspm", None),
        ("POST", "/search/config/page", cspm_search.search_config_page, "cspm", None),
        ("POST", "/api/v1/permission", cspm_permissions.search_permissions, "cspm", None),
        ("POST", "/api/v1/permission/page", cspm_permissions.search_permissions_page, "cspm", None),
    ]
    out: list[Route] = []
    for method, path, handler, auth, rate in table:
        out.extend(sim.endpoint(method, path, _guarded(handler), auth=auth, rate=rate))
    return out
