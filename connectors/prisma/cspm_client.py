"""Async client for the Prisma Cloud CSPM API (alerts, resources, RQL config search, actions).

Pure httpx, no Kafka: the CSPM source in this package drives it and checkpoints page tokens.

Authentication: ``POST /login`` with the access key pair returns a JWT valid for 10 minutes, sent
as ``x-redlock-auth`` on every call. The client extends it with ``GET /auth_token/extend`` once it
is older than ``token_ttl_s - token_refresh_margin_s`` (measured on an injectable clock), logs in
again when it is past its lifetime or the extension is refused, and on a 401 from any call logs in
once more and repeats the call; a second 401 raises :class:`AuthenticationError`. Tokens and secrets
are never logged.

Every HTTP exchange goes through :func:`connectors.base.send_with_retry` (transport errors, 408,
429 and 5xx retried with full-jitter backoff, ``Retry-After`` and ``X-RateLimit-*`` honoured).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx

from connectors.base import AuthenticationError, ResponseFormatError
from connectors.http_client import HttpSeams
from connectors.prisma._http import SessionTokenClient, expect_dict, json_body
from connectors.prisma.models import (
    AlertFilter,
    AlertPage,
    LoginResponse,
    PermissionPage,
    RemediationCli,
    SearchPage,
    TimeRange,
)
from connectors.prisma.settings import PrismaSettings

__all__ = ["AlertQuery", "CspmClient", "FilterSpec", "SearchQuery"]

logger = logging.getLogger(__name__)

#: Filters as models, or as a mapping ``{"alert.status": "open", "cloud.type": ["aws", "gcp"]}``.
FilterSpec = Sequence[AlertFilter] | Mapping[str, str | Sequence[str]]


class AlertQuery(TypedDict, total=False):
    """How an alert listing is shaped: ``detailed`` items (default True), ``limit`` per page (default
    the settings' ``page_size``), ``sort_by`` (default ``("alertTime:asc",)``)."""

    detailed: bool
    limit: int | None
    sort_by: Sequence[str]


class SearchQuery(TypedDict, total=False):
    """How an RQL config search is paged: ``limit`` rows per page (default 100), and whether each
    row carries the resource's JSON (``with_resource_json``, default True)."""

    limit: int
    with_resource_json: bool


def _filters_json(filters: FilterSpec | None) -> list[dict[str, str]]:
    if filters is None:
        return []
    if isinstance(filters, Mapping):
        out: list[dict[str, str]] = []
        for name, value in filters.items():
            values = [value] if isinstance(value, str) else list(value)
            out.extend({"name": name, "operator": "=", "value": v} for v in values)
        return out
    return [f.model_dump() for f in filters]


class CspmClient(SessionTokenClient):
    """One tenant's CSPM API. Use as ``async with CspmClient(settings) as cspm: ...``.

    ``client`` is borrowed when given (tests pass one over ``httpx.ASGITransport``) and closed
    only when the client created it. ``clock`` (monotonic seconds) times the token's age;
    ``sleep`` and ``rng`` are the retry policy's seams.
    """

    def __init__(self, settings: PrismaSettings, **seams: Unpack[HttpSeams]) -> None:
        super().__init__(settings, **seams)
        self._settings = settings
        self._base_url = settings.api_url
        self._name = "prisma cspm"
        self._token: str | None = None
        self._token_at = 0.0
        self._lock = asyncio.Lock()
        self.logins = 0
        self.extensions = 0

    # -- authentication ------------------------------------------------------------------------

    async def login(self) -> LoginResponse:
        """``POST /login``; raises :class:`AuthenticationError` when the key pair is rejected."""
        body: dict[str, Any] = {
            "username": self._settings.username,
            "password": self._settings.password.get_secret_value(),
        }
        if self._settings.prisma_id:
            body["prismaId"] = self._settings.prisma_id
        response = await self._send("POST", "/login", json=body, token=None)
        login = LoginResponse.model_validate(expect_dict(json_body(response), response))
        self._token, self._token_at = login.token, self._clock()
        self.logins += 1
        logger.info("prisma cspm login ok api=%s logins=%d", self._settings.api_url, self.logins)
        return login

    async def _extend(self) -> None:
        assert self._token is not None
        response = await self._send("GET", "/auth_token/extend", token=self._token)
        login = LoginResponse.model_validate(expect_dict(json_body(response), response))
        self._token, self._token_at = login.token, self._clock()
        self.extensions += 1
        logger.debug("prisma cspm token extended extensions=%d", self.extensions)

    async def _valid_token(self) -> str:
        """A token that is good for at least ``token_refresh_margin_s``: extended or renewed."""
        async with self._lock:
            age = self._clock() - self._token_at
            if self._token is None or age >= self._settings.token_ttl_s:
                await self.login()
            elif age >= self._settings.token_ttl_s - self._settings.token_refresh_margin_s:
                try:
                    await self._extend()
                except AuthenticationError:
                    logger.info("prisma cspm token extension refused; logging in again")
                    await self.login()
            assert self._token is not None
            return self._token

    def _auth_headers(self, token: str) -> dict[str, str]:
        return {"x-redlock-auth": token}

    # -- alerts --------------------------------------------------------------------------------

    async def iter_alert_pages(self, filters: FilterSpec | None = None, time_range: TimeRange | None = None,
                               *, page_token: str | None = None,
                               **query: Unpack[AlertQuery]) -> AsyncIterator[AlertPage]:
        """``POST /v2/alert`` page by page, following ``nextPageToken``.

        Pass a checkpointed ``next_page_token`` as ``page_token`` to resume. The full query is
        re-sent with each token (the server takes the query from the token). An expired or unknown
        token raises :class:`connectors.base.BadRequestError`; restart with a time range then.
        """
        body: dict[str, Any] = {
            "filters": _filters_json(filters),
            "timeRange": (time_range or TimeRange.to_now("epoch")).as_json(),
            "limit": query.get("limit") or self._settings.page_size,
            "detailed": query.get("detailed", True),
            "sortBy": list(query.get("sort_by", ("alertTime:asc",))),
        }
        token = page_token
        number = 0
        while True:
            request_body = {**body, "pageToken": token} if token else body
            response = await self._call("POST", "/v2/alert", json=request_body)
            data = expect_dict(json_body(response), response)
            items = data.get("items")
            if not isinstance(items, list):
                raise ResponseFormatError(
                    "/v2/alert response without items", method="POST", path="/v2/alert"
                )
            next_token = data.get("nextPageToken") or None
            if next_token is not None and next_token == token:
                raise ResponseFormatError(
                    "/v2/alert returned the same page token again", method="POST", path="/v2/alert"
                )
            total = data.get("totalRows")
            yield AlertPage(
                items=items,
                total_rows=total if isinstance(total, int) else None,
                page_token=token,
                next_page_token=next_token,
                page_number=number,
            )
            logger.debug("prisma cspm alert page page=%d count=%d", number, len(items))
            if next_token is None or not items:
                return
            token, number = next_token, number + 1

    async def list_alerts(self, filters: FilterSpec | None = None, time_range: TimeRange | None = None,
                          **query: Unpack[AlertQuery]) -> AsyncIterator[dict[str, Any]]:
        """Every alert matching ``filters`` and ``time_range``, as raw dicts, across all pages."""
        async for page in self.iter_alert_pages(filters, time_range, **query):
            for item in page.items:
                yield item

    async def get_alert(self, alert_id: str, *, detailed: bool = True) -> dict[str, Any]:
        """``GET /alert/{id}``; :class:`connectors.base.NotFoundError` when it does not exist."""
        path = "/alert/" + quote(alert_id, safe="")
        response = await self._call("GET", path, params={"detailed": str(detailed).lower()})
        return expect_dict(json_body(response), response)

    async def dismiss_alerts(
        self,
        alert_ids: Sequence[str],
        note: str,
        *,
        snooze: TimeRange | None = None,
        time_range: TimeRange | None = None,
    ) -> None:
        """``POST /alert/dismiss``: dismiss (or snooze until ``snooze``) the given alerts."""
        body: dict[str, Any] = {
            "alerts": list(alert_ids),
            "policies": [],
            "dismissalNote": note,
            "filter": {"timeRange": (time_range or TimeRange.to_now()).as_json(), "filters": []},
        }
        if snooze is not None:
            body["dismissalTimeRange"] = snooze.as_json()
        await self._call("POST", "/alert/dismiss", json=body)
        logger.info("prisma cspm dismissed count=%d snooze=%s", len(alert_ids), snooze is not None)

    async def reopen_alerts(
        self, alert_ids: Sequence[str], *, time_range: TimeRange | None = None
    ) -> None:
        """``POST /alert/reopen``: dismissed or snoozed alerts become open (``USER_REOPENED``)."""
        body = {
            "alerts": list(alert_ids),
            "policies": [],
            "filter": {"timeRange": (time_range or TimeRange.to_now()).as_json(), "filters": []},
        }
        await self._call("POST", "/alert/reopen", json=body)
        logger.info("prisma cspm reopened count=%d", len(alert_ids))

    async def remediation_cli(
        self, alert_ids: Sequence[str], *, time_range: TimeRange | None = None
    ) -> RemediationCli:
        """``POST /alert/remediation``: the CLI that would fix these alerts (one policy only)."""
        body = {
            "alerts": list(alert_ids),
            "filter": {"timeRange": (time_range or TimeRange.to_now()).as_json()},
        }
        response = await self._call("POST", "/alert/remediation", json=body)
        return RemediationCli.model_validate(expect_dict(json_body(response), response))

    async def remediate(self, alert_id: str) -> None:
        """``PATCH /alert/remediation/{id}``: run the policy's CLI remediation for one alert.

        A policy without remediation answers 405 (:class:`connectors.base.UnexpectedStatusError`).
        """
        await self._call("PATCH", "/alert/remediation/" + quote(alert_id, safe=""))
        logger.info("prisma cspm remediation requested")

    # -- resources and RQL ---------------------------------------------------------------------

    async def get_resource(self, rrn: str) -> dict[str, Any]:
        """``POST /resource`` by RRN (the API looks resources up by RRN only)."""
        response = await self._call("POST", "/resource", json={"rrn": rrn})
        return expect_dict(json_body(response), response)

    async def iter_search_config_pages(self, rql: str, time_range: TimeRange | None = None,
                                       **query: Unpack[SearchQuery]) -> AsyncIterator[SearchPage]:
        """``POST /search/config`` then ``POST /search/config/page`` until no token is left.

        Invalid or unsupported RQL raises :class:`connectors.base.BadRequestError`.
        """
        limit, with_resource_json = query.get("limit", 100), query.get("with_resource_json", True)
        body: dict[str, Any] = {
            "query": rql,
            "timeRange": (time_range or TimeRange.to_now()).as_json(),
            "limit": limit,
            "withResourceJson": with_resource_json,
            "heuristicSearch": False,
        }
        response = await self._call("POST", "/search/config", json=body)
        top = expect_dict(json_body(response), response)
        data = top.get("data") or {}
        if not isinstance(data, dict):
            raise ResponseFormatError("search response without data", path="/search/config")
        search_id = top.get("id")
        while True:
            token = data.get("nextPageToken") or None
            total = data.get("totalRows")
            yield SearchPage(
                search_id=search_id if isinstance(search_id, str) else None,
                items=list(data.get("items") or []),
                total_rows=total if isinstance(total, int) else None,
                next_page_token=token,
            )
            if token is None:
                return
            page_body = {"limit": limit, "pageToken": token, "withResourceJson": with_resource_json}
            response = await self._call("POST", "/search/config/page", json=page_body)
            data = expect_dict(json_body(response), response)

    async def search_config(self, rql: str, time_range: TimeRange | None = None,
                            **query: Unpack[SearchQuery]) -> AsyncIterator[dict[str, Any]]:
        """Every resource an RQL ``config from cloud.resource ...`` query matches."""
        async for page in self.iter_search_config_pages(rql, time_range, **query):
            for item in page.items:
                yield item

    # -- IAM (CIEM) permission search ----------------------------------------------------------

    async def iter_permission_pages(self, rql: str, *, limit: int = 100,
                                    max_pages: int = 100) -> AsyncIterator[PermissionPage]:
        """``POST /api/v1/permission`` then ``POST /api/v1/permission/page`` until no token is left.

        ``rql`` is an IAM query (``config from iam where ...``). The first answer wraps the page in
        ``data`` (``PermissionSearchResponseDto``), the following ones are the page itself
        (``PermissionSearchResultDataDto``), as pan.dev's ``IAMMicroService.json`` documents. A page
        token answered again, or more than ``max_pages`` pages, raise :class:`ResponseFormatError`
        rather than loop; invalid RQL raises :class:`connectors.base.BadRequestError`.
        """
        path = "/api/v1/permission"
        response = await self._call("POST", path, json={"query": rql, "limit": limit})
        top = expect_dict(json_body(response), response)
        data, token, number = top.get("data"), None, 0
        while True:
            if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
                raise ResponseFormatError(f"{path} response without a page of items", method="POST", path=path)
            next_token = data.get("nextPageToken") or None
            if next_token is not None and next_token == token:
                raise ResponseFormatError(f"{path} returned the same page token again", method="POST", path=path)
            total = data.get("totalRows")
            yield PermissionPage(items=[i for i in data.get("items") or [] if isinstance(i, dict)],
                                 total_rows=total if isinstance(total, int) else None,
                                 next_page_token=next_token, page_number=number)
            if next_token is None:
                return
            if number + 1 >= max_pages:
                raise ResponseFormatError(f"{path} gave more than {max_pages} pages", method="POST", path=path)
            token, number, path = next_token, number + 1, "/api/v1/permission/page"
            response = await self._call("POST", path, json={"pageToken": token, "limit": limit})
            data = expect_dict(json_body(response), response)

    async def search_permissions(self, rql: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """Every ``PermissionDto`` an IAM query matches, across all pages."""
        return [item async for page in self.iter_permission_pages(rql, limit=limit) for item in page.items]
