"""Plumbing shared by the CSPM and Compute clients: session tokens and reading JSON bodies."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import AuthenticationError, ResponseFormatError, send_with_retry
from connectors.http_client import HttpConnector

__all__ = ["SessionTokenClient", "expect_dict", "json_body"]

logger = logging.getLogger(__name__)


class SessionTokenClient(HttpConnector):
    """An HTTP client that logs in for a session token, sends it with every call and, when a call
    is answered 401, drops the token and logs in once more before giving up.

    Subclasses set ``_name`` and ``_base_url``, and implement :meth:`_auth_headers` and
    :meth:`_valid_token` (which logs in when ``_token`` is None). Keep ``_token`` under ``_lock``.
    """

    _name = "prisma"
    _base_url = ""
    _token: str | None = None
    _lock: asyncio.Lock

    def _auth_headers(self, token: str) -> dict[str, str]:
        raise NotImplementedError

    async def _valid_token(self) -> str:
        raise NotImplementedError

    async def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json", **(self._auth_headers(token) if token is not None else {})}
        url = self._base_url + path

        def build() -> httpx.Request:
            return self._client.build_request(method, url, json=json, params=params, headers=headers)

        return await send_with_retry(self._client, build, self._retry, sleep=self._sleep, rng=self._rng)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An authenticated call; one new login on 401, then :class:`AuthenticationError`."""
        token = await self._valid_token()
        try:
            return await self._send(method, path, token=token, json=json, params=params)
        except AuthenticationError as exc:
            if exc.status_code != 401:
                raise
            logger.info("%s 401; logging in again method=%s path=%s", self._name, method, exc.path)
        async with self._lock:
            if self._token == token:  # another task may have renewed it meanwhile
                self._token = None
        token = await self._valid_token()
        return await self._send(method, path, token=token, json=json, params=params)


def json_body(response: httpx.Response, *, allow_empty: bool = False) -> Any:
    """The response's JSON; raises :class:`ResponseFormatError` on a non-JSON body.

    ``allow_empty`` maps an empty body to ``None`` (Prisma answers several actions with 200 and
    nothing at all, and Compute may answer an empty list with ``null``).
    """
    if not response.content.strip():
        if allow_empty:
            return None
        raise ResponseFormatError.about(response, "empty response body")
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ResponseFormatError.about(response, "response body is not JSON", with_body=True) from exc


def expect_dict(value: Any, response: httpx.Response) -> dict[str, Any]:
    """``value`` if it is a JSON object, else :class:`ResponseFormatError`."""
    if not isinstance(value, dict):
        raise ResponseFormatError.about(response, f"expected a JSON object, got {type(value).__name__}")
    return value
