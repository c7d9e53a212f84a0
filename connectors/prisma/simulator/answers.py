"""How the simulated Prisma Cloud answers: error shapes, JSON bodies, the handler signature.

CSPM errors are an empty body with the detail in ``x-redlock-status`` (reference section 8.1);
Compute errors are ``{"err": "..."}``. Shared by the CSPM and Compute route modules and the
simulator's request guard.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.prisma.simulator.query import QueryError

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["Handler", "compute_error", "cspm_error", "json_answer", "read_body"]

Handler = Callable[["PrismaCloudSimulator", Request, str], Awaitable[Response]]
"""A route handler: the simulator, the request and the authenticated user ("" when open)."""

_JSON = "application/json; charset=UTF-8"


def cspm_error(status: int, i18n_key: str, subject: str | None = None) -> Response:
    """A CSPM error: empty body, detail in ``x-redlock-status`` as Prisma sends it."""
    detail = json.dumps([{"i18nKey": i18n_key, "severity": "error", "subject": subject}])
    return Response(b"", status_code=status, headers={"x-redlock-status": detail})


def compute_error(status: int, message: str) -> Response:
    """A Compute error: ``{"err": "..."}``."""
    return JSONResponse({"err": message}, status_code=status)


def json_answer(body: Any, status: int = 200) -> Response:
    """A CSPM JSON answer (``application/json; charset=UTF-8``, as the service labels it)."""
    return Response(json.dumps(body), status_code=status, media_type=_JSON)


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (``{}`` when empty); a 400 :class:`QueryError` otherwise."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise QueryError("body is not JSON", i18n_key="bad_request") from exc
    if not isinstance(value, dict):
        raise QueryError("body must be a JSON object", i18n_key="bad_request")
    return value
