"""CSPM login and token extension (``POST /login``, ``GET /auth_token/extend``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from connectors.prisma.simulator.answers import cspm_error, json_answer, read_body

if TYPE_CHECKING:
    from connectors.prisma.simulator.core import PrismaCloudSimulator

__all__ = ["extend", "login"]

_TENANTS: list[dict[str, Any]] = [
    {"customerName": "Acme (simulated)", "prismaId": "806775525911175168", "tosAccepted": True}]


async def login(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    body = await read_body(request)
    username, password = body.get("username"), body.get("password")
    if not username or not password:
        return cspm_error(400, "missing_required_parameter", "username")
    if sim.config.users.get(str(username)) != password:
        return cspm_error(401, "invalid_credentials")
    token = sim.tokens.issue(str(username), "cspm", sim.clock.now(), sim.config.token_ttl_s)
    return json_answer({"token": token, "message": "login_successful", "customerNames": _TENANTS})


async def extend(sim: PrismaCloudSimulator, request: Request, user: str) -> Response:
    info = sim.tokens.lookup(request.headers.get("x-redlock-auth"), sim.clock.now(), ("cspm",))
    if info is None:
        return cspm_error(401, "token_expired")
    token = sim.tokens.issue(info.user, "cspm", sim.clock.now(), sim.config.token_ttl_s)
    return json_answer({"token": token, "message": "login_successful", "customerNames": _TENANTS,
                        "roles": ["System Admin"]})
