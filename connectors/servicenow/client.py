"""Async client for the ServiceNow Table API: create, find, update, resolve and reopen tickets.

Pure httpx, no Kafka: the ServiceNow sink drives it and keeps :class:`~processors.records.TicketState`
in ``prisma.tickets``. Idempotency rests on ``correlation_id`` (= the finding's fingerprint): after
a crash between "record created" and "offset committed", :meth:`ServiceNowClient.ensure` finds the
record it made before instead of creating a second one.

Every exchange goes through :func:`connectors.base.send_with_retry` (transport errors, 408, 429 and
5xx retried with full-jitter backoff; ``Retry-After`` on a 429 honoured). ServiceNow's error
envelope ``{"error": {"message", "detail"}, "status": "failure"}`` is kept in each error's body
excerpt. One translation is added at this boundary: a 403 that is a data policy or business rule
refusal (not an ACL) becomes :class:`DataPolicyError`, a :class:`BadRequestError`, because sending
the same write again will fail again while the credentials are fine.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from typing import Any, Unpack

import httpx
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import (AuthenticationError, BadRequestError, ConnectorError, ResponseFormatError,
                             send_with_retry)
from connectors.http_client import HttpConnector, HttpSeams
from connectors.servicenow.settings import BasicAuth, ServiceNowSettings
from processors.models import RiskTier

__all__ = [
    "DataPolicyError",
    "ServiceNowClient",
    "ServiceNowRecord",
    "TicketDraft",
    "build_create_fields",
]

logger = logging.getLogger(__name__)

#: Fields a lookup asks for (``sysparm_fields``): enough to decide create/update/reopen.
LOOKUP_FIELDS = (
    "sys_id", "number", "state", "active", "correlation_id", "short_description", "priority",
    "assignment_group", "sys_updated_on", "sys_created_on",
)
#: Fingerprints go into an encoded query, where ``^`` and ``=`` are syntax.
_FINGERPRINT = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_POLICY_MARKERS = ("data policy", "business rule", "operation failed")


class DataPolicyError(BadRequestError):
    """403 from a data policy or business rule (e.g. resolving without a close code).

    The request is wrong for this instance's rules; the credentials are not at fault.
    """


class TicketDraft(BaseModel):
    """What the sink wants a ticket to say, before the instance's mapping is applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: str = Field(pattern=_FINGERPRINT.pattern, description="-> correlation_id")
    title: str = Field(min_length=1)
    description: str = ""
    tier: RiskTier
    team: str = ""
    owner: str = ""
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Extra columns, e.g. risk_score or business_criticality on sn_si_incident.",
    )


class ServiceNowRecord(BaseModel):
    """One record as the Table API returned it (database values, all strings)."""

    model_config = ConfigDict(frozen=True)

    sys_id: str
    number: str = ""
    state: str = ""
    active: bool = True
    correlation_id: str = ""
    short_description: str = ""
    raw: dict[str, Any] = Field(default_factory=dict, description="Every field returned.")

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> ServiceNowRecord:
        """Build from a ``result`` object; ``active`` arrives as the string "true"/"false"."""
        def text(name: str) -> str:
            value = raw.get(name, "")
            if isinstance(value, Mapping):  # a reference link object, if one slipped through
                value = value.get("value", "")
            return str(value)

        return cls(
            sys_id=text("sys_id"),
            number=text("number"),
            state=text("state"),
            active=text("active").lower() != "false",
            correlation_id=text("correlation_id"),
            short_description=text("short_description"),
            raw=dict(raw),
        )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if limit <= 160 else text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def build_create_fields(draft: TicketDraft, settings: ServiceNowSettings) -> dict[str, str]:
    """The column values a new record gets for ``draft`` (pure; no I/O).

    Maps the tier to urgency/impact, the owner or team to an assignment group, clips the short
    description to 160 characters, and stamps ``correlation_id``/``correlation_display``. Empty
    defaults (caller, subcategory, group) are left out rather than sent as "".
    """
    fields: dict[str, str] = {
        "short_description": _clip(draft.title, settings.short_description_max),
        "description": _clip(draft.description, settings.description_max),
        "urgency": settings.urgency_by_tier[draft.tier],
        "impact": settings.impact_by_tier[draft.tier],
        "correlation_id": draft.fingerprint,
        "correlation_display": settings.correlation_display,
    }
    optional = {
        "assignment_group": settings.assignment_group_for(draft.team, draft.owner),
        "caller_id": settings.caller_id,
        "category": settings.category,
        "subcategory": settings.subcategory,
    }
    fields.update({k: v for k, v in optional.items() if v})
    fields.update(draft.fields)
    return fields


class ServiceNowClient(HttpConnector):
    """One instance's Table API for the configured table. ``async with ServiceNowClient(s) as sn``.

    ``client`` is borrowed when given (tests pass one over ``httpx.ASGITransport``) and closed only
    when this object created it. ``sleep`` and ``rng`` are the retry policy's seams.
    """

    def __init__(self, settings: ServiceNowSettings, **seams: Unpack[HttpSeams]) -> None:
        self._settings = settings
        super().__init__(settings, **seams)

    @property
    def settings(self) -> ServiceNowSettings:
        return self._settings

    def record_url(self, record: ServiceNowRecord) -> str:
        """The UI link a person clicks (for ``TicketState.ticket_url``)."""
        table = self._settings.table.value
        return f"{self._settings.instance_url}/nav_to.do?uri={table}.do?sys_id={record.sys_id}"

    # -- operations ------------------------------------------------------------------------------

    async def create(self, draft: TicketDraft) -> ServiceNowRecord:
        """POST a new record for ``draft``; raises :class:`BadRequestError` if it is refused."""
        record = await self.create_record(build_create_fields(draft, self._settings))
        logger.info("servicenow created table=%s number=%s sys_id=%s correlation_id=%s",
                    self._settings.table.value, record.number, record.sys_id, draft.fingerprint)
        return record

    async def create_record(self, fields: Mapping[str, str]) -> ServiceNowRecord:
        """POST ``fields`` as one new record (201) and return it as stored."""
        # Not replayed after a lost answer: the record may exist; the sink looks for it by correlation id.
        return _record(await self._send("POST", self._settings.table_path, json=dict(fields), replay_safe=False))

    async def ensure(self, draft: TicketDraft) -> tuple[ServiceNowRecord, bool]:
        """The active record for ``draft.fingerprint``, creating it when none exists.

        Returns ``(record, created)``. This is the crash-safe create: a retry after a crash finds
        the earlier record by ``correlation_id`` instead of opening a duplicate.
        """
        found = await self.find_by_correlation_id(draft.fingerprint)
        if found is not None:
            return found, False
        return await self.create(draft), True

    async def find_by_correlation_id(
        self, fingerprint: str, *, include_inactive: bool = False
    ) -> ServiceNowRecord | None:
        """The newest record whose ``correlation_id`` is ``fingerprint``, or None.

        Only active records unless ``include_inactive``. More than one match means duplicates
        were made outside Prismaflow (or before it used correlation ids); it is logged and the
        newest is returned.
        """
        if not _FINGERPRINT.match(fingerprint):
            raise ValueError("fingerprint may hold only letters, digits and _.:-")
        query = f"correlation_id={fingerprint}"
        if not include_inactive:
            query += "^active=true"
        params = {
            "sysparm_query": f"{query}^ORDERBYDESCsys_created_on",
            "sysparm_fields": ",".join(LOOKUP_FIELDS),
            "sysparm_limit": str(self._settings.find_limit),
        }
        response = await self._send("GET", self._settings.table_path, params=params)
        result = _result(response)
        if not isinstance(result, list):
            raise _format_error(response, "expected a list result")
        if len(result) > 1:
            logger.warning("servicenow duplicate correlation_id table=%s count=%d",
                           self._settings.table.value, len(result))
        return ServiceNowRecord.from_api(result[0]) if result else None

    async def get(self, sys_id: str) -> ServiceNowRecord:
        """GET one record; raises :class:`NotFoundError` when missing or hidden by an ACL."""
        response = await self._send("GET", self._record_path(sys_id))
        return _record(response)

    async def update(
        self, sys_id: str, *, work_notes: str = "", fields: Mapping[str, str] | None = None
    ) -> ServiceNowRecord:
        """PATCH ``fields`` and append ``work_notes`` (a journal entry; it reads back as "")."""
        body = dict(fields or {})
        if work_notes:
            body["work_notes"] = work_notes
        if not body:
            raise ValueError("nothing to update")
        return await self._write("PATCH", self._record_path(sys_id), body)

    async def add_work_note(self, sys_id: str, note: str) -> ServiceNowRecord:
        """Append an internal work note (recurrence, new evidence) without changing fields."""
        return await self.update(sys_id, work_notes=note)

    async def resolve(
        self,
        sys_id: str,
        *,
        close_code: str | None = None,
        close_notes: str | None = None,
        work_notes: str = "",
    ) -> ServiceNowRecord:
        """Move the record to the table's resolved state with a resolution code and notes.

        Defaults come from settings. A :class:`DataPolicyError` means the instance wants other or
        more fields to resolve (its own close codes, mandatory fields).
        """
        fields = {
            "state": self._settings.state_values.resolved,
            "close_code": close_code or self._settings.close_code,
            "close_notes": close_notes or self._settings.close_notes,
        }
        record = await self.update(sys_id, work_notes=work_notes, fields=fields)
        logger.info("servicenow resolved table=%s number=%s state=%s",
                    self._settings.table.value, record.number, record.state)
        return record

    async def reopen(self, sys_id: str, note: str) -> ServiceNowRecord:
        """Put a resolved record back to In Progress (Analysis on SIR) with a work note saying why.

        Closed incidents are final on most instances; the write is then refused (403) and the
        sink should open a new record instead.
        """
        fields = {"state": self._settings.state_values.in_progress, "close_code": "",
                  "close_notes": ""}
        record = await self.update(sys_id, work_notes=note, fields=fields)
        logger.info("servicenow reopened table=%s number=%s", self._settings.table.value,
                    record.number)
        return record

    # -- plumbing --------------------------------------------------------------------------------

    def _record_path(self, sys_id: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{32}", sys_id):
            raise ValueError("sys_id must be 32 lower-case hex digits")
        return f"{self._settings.table_path}/{sys_id}"

    async def _write(self, method: str, path: str, body: dict[str, str]) -> ServiceNowRecord:
        return _record(await self._send(method, path, json=body))

    def _auth_header(self) -> str:
        auth = self._settings.auth
        if isinstance(auth, BasicAuth):
            pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return "Bearer " + auth.token.get_secret_value()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        replay_safe: bool = True,
    ) -> httpx.Response:
        query = {"sysparm_display_value": "false", "sysparm_exclude_reference_link": "true",
                 **(params or {})}
        url = self._settings.instance_url + path

        def build() -> httpx.Request:
            headers = {"Accept": "application/json", "Authorization": self._auth_header()}
            if json is not None:
                headers["Content-Type"] = "application/json"
            return self._client.build_request(method, url, params=query, json=json,
                                              headers=headers)

        try:
            return await send_with_retry(self._client, build, self._retry, sleep=self._sleep,
                                         rng=self._rng, replay_safe=replay_safe)
        except AuthenticationError as exc:
            if exc.status_code == 403 and _is_policy_refusal(exc.body_excerpt):
                raise DataPolicyError(
                    "refused by data policy or business rule", status_code=403,
                    method=exc.method, path=exc.path, body_excerpt=exc.body_excerpt,
                ) from exc
            raise


def _is_policy_refusal(excerpt: str) -> bool:
    lowered = excerpt.lower()
    return any(marker in lowered for marker in _POLICY_MARKERS) and "acl" not in lowered


def _format_error(response: httpx.Response, message: str) -> ConnectorError:
    return ResponseFormatError.about(response, message, with_body=True)


def _result(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError as exc:
        raise _format_error(response, "response body is not JSON") from exc
    if not isinstance(body, dict) or "result" not in body:
        raise _format_error(response, "no result envelope")
    return body["result"]


def _record(response: httpx.Response) -> ServiceNowRecord:
    result = _result(response)
    if not isinstance(result, dict) or not result.get("sys_id"):
        raise _format_error(response, "expected one record")
    return ServiceNowRecord.from_api(result)
