"""Async client for the Prisma Cloud Compute (CWPP) API: runtime audits, incidents, scan results.

Pure httpx, no Kafka. ``POST /api/<version>/authenticate`` with the key pair returns a token sent
as ``Authorization: Bearer``; the client re-authenticates after ``compute_token_ttl_s`` and once
on a 401 (a second 401 raises :class:`AuthenticationError`).

Listing endpoints page with ``limit``/``offset`` and answer a bare JSON array (``null`` when empty)
plus a ``Total-Count`` header. The iterators here yield one :class:`ComputePage` per request so a
caller can checkpoint the offset; they stop when ``offset`` reaches ``Total-Count`` or, without
that header, at the first short page. Offset paging over live data is not a snapshot: items
inserted or removed meanwhile shift later pages, so consumers must dedupe by ``_id``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from typing import Literal, Unpack
from urllib.parse import quote

import httpx

from connectors.base import ResponseFormatError
from connectors.http_client import HttpSeams
from connectors.prisma._http import SessionTokenClient, expect_dict, json_body
from connectors.prisma.models import ComputePage
from connectors.prisma.settings import PrismaSettings

__all__ = ["ComputeClient", "RuntimeAuditKind"]

logger = logging.getLogger(__name__)

RuntimeAuditKind = Literal["container", "host", "serverless", "app-embedded", "file-integrity"]


def _iso(value: datetime) -> str:
    """Compute's time filter format: ISO-8601 UTC with milliseconds and ``Z``."""
    value = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class ComputeClient(SessionTokenClient):
    """One Compute console. Use as ``async with ComputeClient(settings) as compute: ...``.

    Requires ``settings.compute_url``. ``client`` is borrowed when given, closed only when owned.
    """

    def __init__(self, settings: PrismaSettings, **seams: Unpack[HttpSeams]) -> None:
        if settings.compute_url is None:
            raise ValueError("PrismaSettings.compute_url is required for the Compute client")
        self._settings = settings
        self._base_url = f"{settings.compute_url}/api/{settings.compute_api_version}"
        super().__init__(settings, **seams)
        self._name = "prisma compute"
        self._token: str | None = None
        self._token_at = 0.0
        self._lock = asyncio.Lock()
        self.authentications = 0


    async def authenticate(self) -> None:
        """``POST /authenticate``; raises :class:`AuthenticationError` on rejected credentials."""
        user, secret = self._settings.compute_credentials
        response = await self._send(
            "POST",
            "/authenticate",
            token=None,
            json={"username": user, "password": secret.get_secret_value()},
        )
        body = expect_dict(json_body(response), response)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise ResponseFormatError("authenticate response without token", path="/authenticate")
        self._token, self._token_at = token, self._clock()
        self.authentications += 1
        logger.info("prisma compute authenticated authentications=%d", self.authentications)

    async def _valid_token(self) -> str:
        async with self._lock:
            if self._token is None or (
                self._clock() - self._token_at >= self._settings.compute_token_ttl_s
            ):
                await self.authenticate()
            assert self._token is not None
            return self._token

    def _auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def iter_pages(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        page_size: int | None = None,
        offset: int = 0,
    ) -> AsyncIterator[ComputePage]:
        """GET ``path`` (e.g. ``/images``) page by page with ``limit``/``offset``."""
        limit = page_size or self._settings.compute_page_size
        while True:
            query = {**(params or {}), "limit": str(limit), "offset": str(offset)}
            response = await self._call("GET", path, params=query)
            body = json_body(response, allow_empty=True)
            if body is None:
                body = []
            if not isinstance(body, list):
                raise ResponseFormatError(
                    f"expected a JSON array, got {type(body).__name__}", method="GET", path=path
                )
            total = _total_count(response)
            yield ComputePage(items=body, offset=offset, limit=limit, total_count=total)
            offset += len(body)
            done = offset >= total if total is not None else len(body) < limit
            if done or not body:
                return

    async def iter_runtime_audits(
        self,
        kind: RuntimeAuditKind = "container",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        filters: Mapping[str, str] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ComputePage]:
        """``GET /audits/runtime/{kind}`` pages, optionally between ``since`` and ``until``."""
        params = dict(filters or {})
        if since is not None:
            params["from"] = _iso(since)
        if until is not None:
            params["to"] = _iso(until)
        async for page in self.iter_pages(f"/audits/runtime/{kind}", params, page_size=page_size):
            yield page

    async def iter_incidents(
        self,
        *,
        acknowledged: bool | None = False,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ComputePage]:
        """``GET /audits/incidents`` pages; ``acknowledged=None`` sends no filter, leaving the
        console's default (unacknowledged only, per the reference)."""
        params: dict[str, str] = {}
        if acknowledged is not None:
            params["acknowledged"] = str(acknowledged).lower()
        if since is not None:
            params["from"] = _iso(since)
        if until is not None:
            params["to"] = _iso(until)
        async for page in self.iter_pages("/audits/incidents", params, page_size=page_size):
            yield page

    async def acknowledge_incident(self, incident_id: str, acknowledged: bool = True) -> None:
        """``PATCH /audits/incidents/acknowledge/{id}`` (archive or restore an incident)."""
        path = "/audits/incidents/acknowledge/" + quote(incident_id, safe="")
        await self._call("PATCH", path, json={"acknowledged": acknowledged})

    async def iter_images(
        self, filters: Mapping[str, str] | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[ComputePage]:
        """``GET /images``: deployed image scan results with their ``vulnerabilities``."""
        async for page in self.iter_pages("/images", filters, page_size=page_size):
            yield page

    async def iter_hosts(
        self, filters: Mapping[str, str] | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[ComputePage]:
        """``GET /hosts``: host scan results; ``cloudMetadata.resourceID`` joins CSPM resources."""
        async for page in self.iter_pages("/hosts", filters, page_size=page_size):
            yield page

    async def iter_containers(
        self, filters: Mapping[str, str] | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[ComputePage]:
        """``GET /containers``: running containers and their image/host."""
        async for page in self.iter_pages("/containers", filters, page_size=page_size):
            yield page


def _total_count(response: httpx.Response) -> int | None:
    raw = response.headers.get("total-count")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ResponseFormatError.about(response, "Total-Count header is not an integer") from exc
