"""Plumbing shared by the CSPM and Compute clients: reading JSON bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors.base import ResponseFormatError

__all__ = ["expect_dict", "json_body"]


def json_body(response: httpx.Response, *, allow_empty: bool = False) -> Any:
    """The response's JSON; raises :class:`ResponseFormatError` on a non-JSON body.

    ``allow_empty`` maps an empty body to ``None`` (Prisma answers several actions with 200 and
    nothing at all, and Compute may answer an empty list with ``null``).
    """
    if not response.content.strip():
        if allow_empty:
            return None
        raise ResponseFormatError(
            "empty response body",
            status_code=response.status_code,
            method=response.request.method,
            path=response.request.url.path,
        )
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ResponseFormatError(
            "response body is not JSON",
            status_code=response.status_code,
            method=response.request.method,
            path=response.request.url.path,
            body_excerpt=response.text[:120],
        ) from exc


def expect_dict(value: Any, response: httpx.Response) -> dict[str, Any]:
    """``value`` if it is a JSON object, else :class:`ResponseFormatError`."""
    if not isinstance(value, dict):
        raise ResponseFormatError(
            f"expected a JSON object, got {type(value).__name__}",
            status_code=response.status_code,
            method=response.request.method,
            path=response.request.url.path,
        )
    return value
