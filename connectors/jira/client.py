"""Async client for Jira Cloud (REST v3) and Jira Data Center (REST v2).

Pure httpx, no Kafka: the Jira sink drives it. What Prismaflow needs from Jira, and nothing more:
create an issue (with the fingerprint label and the sync entity property in the same request, so a
created issue is always findable), find it again by fingerprint, comment, update priority and
labels, and move it through the project's workflow by transition *name* or target status category.

Every HTTP exchange goes through :func:`connectors.base.send_with_retry`: transport errors, 408, 429
and 5xx are retried with full-jitter backoff and ``Retry-After`` honoured; when the policy gives up
it raises :class:`RetriesExhaustedError` whose ``last_error`` is the :class:`TransientError` (the
sink pauses on it). 400s are not retried: :class:`BadRequestError` carries Jira's
``errorMessages``/``errors`` in its message and excerpt (:func:`error_details` parses them back).
Credentials are sent in the ``Authorization`` header only and never logged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Unpack
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from connectors.base import ConnectorError, NotFoundError, ResponseFormatError, TransientError, send_with_retry
from connectors.http_client import HttpConnector, HttpSeams
from connectors.jira._http import WorkflowError, auth_header, error_details, jql_string, json_object
from connectors.jira.models import CreatedIssue, IssueDraft, JiraIssue, JiraTransition, SyncProperty
from connectors.jira.settings import JiraSettings

__all__ = ["ISSUE_FIELDS", "JiraClient", "WorkflowError", "error_details", "jql_string"]

logger = logging.getLogger(__name__)

#: Fields the client asks for when it reads issues (search/jql returns only ``id`` by default).
ISSUE_FIELDS = ("summary", "status", "resolution", "priority", "labels", "project")


class JiraClient(HttpConnector):
    """One Jira site. Use as ``async with JiraClient(settings) as jira: ...``.

    ``client`` is borrowed when given (tests pass one over ``httpx.ASGITransport``) and closed
    only when this object created it. ``sleep`` and ``rng`` are the retry policy's seams.
    """

    def __init__(self, settings: JiraSettings, **seams: Unpack[HttpSeams]) -> None:
        super().__init__(settings, **seams)
        self.settings = settings
        self._api = settings.base_url + settings.api_path

    # -- transport -----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        replay_safe: bool = True,
    ) -> httpx.Response:
        url = self._api + path
        headers = {"Accept": "application/json", "Authorization": auth_header(self.settings.auth)}

        def build() -> httpx.Request:
            return self._client.build_request(
                method, url, json=json_body, params=params, headers=headers
            )

        try:
            return await send_with_retry(
                self._client, build, self._retry, sleep=self._sleep, rng=self._rng, replay_safe=replay_safe
            )
        except TransientError:
            raise
        except ConnectorError as exc:
            details = error_details(exc)
            if details.error_messages or details.errors:
                exc.message = f"{exc.message}: {details.summary()}"
            raise

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        return json_object(response)

    def _rich(self, body: dict[str, Any] | str) -> dict[str, Any] | str:
        """A description or comment body in the flavour's format (ADF on Cloud, string on DC)."""
        if self.settings.uses_adf and not isinstance(body, dict):
            raise TypeError("Jira Cloud (v3) takes an ADF document; build one with connectors.jira.adf")
        if not self.settings.uses_adf and not isinstance(body, str):
            raise TypeError("Jira Data Center (v2) takes wiki markup; render with connectors.jira.wiki")
        return body

    def _user(self, who: str) -> dict[str, str]:
        return {"accountId": who} if self.settings.flavour == "cloud" else {"name": who}

    # -- issues --------------------------------------------------------------------------------

    async def myself(self) -> dict[str, Any]:
        """``GET /myself``: the authenticated user; a cheap credentials check at start-up."""
        return self._json(await self._send("GET", "/myself"))

    async def create_issue(self, draft: IssueDraft, *, sync: SyncProperty | None = None) -> CreatedIssue:
        """``POST /issue``; returns ``{id, key, self}``.

        When ``sync`` is given its fingerprint label is added and the sync property is written in
        the same request, so a crash right after this call leaves an issue that
        :meth:`find_by_fingerprint` finds. Raises :class:`BadRequestError` (with Jira's messages)
        for an invalid field, e.g. an unknown priority.
        """
        labels = list(dict.fromkeys(draft.labels))
        if sync is not None:
            fp_label = self.settings.fingerprint_label(sync.fingerprint)
            labels = list(dict.fromkeys([*labels, fp_label]))
        fields: dict[str, Any] = {
            "project": {"key": draft.project_key},
            "issuetype": {"name": draft.issue_type},
            "summary": draft.summary,
            "description": self._rich(draft.description),
            "labels": labels,
        }
        if draft.priority:
            fields["priority"] = {"name": draft.priority}
        if draft.components:
            fields["components"] = [{"name": c} for c in draft.components]
        if draft.assignee:
            fields["assignee"] = self._user(draft.assignee)
        body: dict[str, Any] = {"fields": fields}
        if sync is not None:
            body["properties"] = [{"key": self.settings.property_key, "value": sync.model_dump()}]
        # Not replayed after a lost answer: the issue may exist; the sink looks for it by fingerprint.
        response = await self._send("POST", "/issue", json_body=body, replay_safe=False)
        try:
            created = CreatedIssue.model_validate(self._json(response))
        except ValidationError as exc:
            raise ResponseFormatError("create answer lacks id/key", status_code=201,
                                      method="POST", path=response.request.url.path) from exc
        logger.info("jira issue created key=%s project=%s", created.key, draft.project_key)
        return created

    async def get_issue(self, key: str) -> JiraIssue:
        """``GET /issue/{key}`` with the fields and sync property we manage; 404 → NotFoundError."""
        params = {"fields": ",".join(ISSUE_FIELDS), "properties": self.settings.property_key}
        response = await self._send("GET", f"/issue/{quote(key, safe='')}", params=params)
        return self._issue(response, self._json(response))

    def _issue(self, response: httpx.Response, bean: dict[str, Any]) -> JiraIssue:
        try:
            return JiraIssue.from_bean(bean)
        except (KeyError, TypeError, AttributeError, ValidationError) as exc:
            raise ResponseFormatError.about(response, "issue without id/fields") from exc

    async def update_issue(
        self,
        key: str,
        *,
        summary: str | None = None,
        description: dict[str, Any] | str | None = None,
        priority: str | None = None,
        add_labels: Sequence[str] = (),
        remove_labels: Sequence[str] = (),
    ) -> None:
        """``PUT /issue/{key}`` (204): set summary/description/priority, add or remove labels.

        Labels go through ``update`` operations so labels people added by hand stay.
        """
        fields: dict[str, Any] = {}
        if summary is not None:
            fields["summary"] = summary
        if description is not None:
            fields["description"] = self._rich(description)
        if priority is not None:
            fields["priority"] = {"name": priority}
        ops = [{"add": x} for x in add_labels] + [{"remove": x} for x in remove_labels]
        body: dict[str, Any] = {"fields": fields}
        if ops:
            body["update"] = {"labels": ops}
        if not fields and not ops:
            return
        await self._send("PUT", f"/issue/{quote(key, safe='')}", json_body=body)
        logger.info("jira issue updated key=%s fields=%s labels_changed=%d",
                    key, ",".join(sorted(fields)), len(ops))

    # -- entity properties ---------------------------------------------------------------------

    async def set_property(self, key: str, property_key: str, value: Any) -> None:
        """``PUT /issue/{key}/properties/{propertyKey}`` (201 created, 200 updated)."""
        path = f"/issue/{quote(key, safe='')}/properties/{quote(property_key, safe='')}"
        await self._send("PUT", path, json_body=value)

    async def get_property(self, key: str, property_key: str) -> Any | None:
        """The property's value, or None when Jira answers 404 (no such property or issue)."""
        path = f"/issue/{quote(key, safe='')}/properties/{quote(property_key, safe='')}"
        try:
            response = await self._send("GET", path)
        except NotFoundError:
            return None
        return self._json(response).get("value")

    async def set_sync(self, key: str, sync: SyncProperty) -> None:
        """Record the fingerprint and last synced hash on the issue (the settings' property key)."""
        await self.set_property(key, self.settings.property_key, sync.model_dump())

    async def get_sync(self, key: str) -> SyncProperty | None:
        """The sync property, or None when the issue has none (or it is malformed)."""
        value = await self.get_property(key, self.settings.property_key)
        try:
            return SyncProperty.model_validate(value) if value is not None else None
        except ValidationError:
            logger.warning("jira sync property malformed key=%s", key)
            return None

    # -- search --------------------------------------------------------------------------------

    async def search(self, jql: str, *, page_size: int | None = None,
                     limit: int | None = None) -> AsyncIterator[JiraIssue]:
        """Issues matching ``jql`` (bounded JQL), with :data:`ISSUE_FIELDS` and the sync property.

        Cloud: ``POST /rest/api/3/search/jql`` paged by ``nextPageToken``. Data Center:
        ``GET /rest/api/2/search`` paged by ``startAt``/``total``. Stops after ``limit`` issues.
        """
        size = page_size or self.settings.search_page_size
        seen = 0
        if self.settings.flavour == "cloud":
            token: str | None = None
            while True:
                body: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": list(ISSUE_FIELDS),
                                        "properties": [self.settings.property_key]}
                if token:
                    body["nextPageToken"] = token
                response = await self._send("POST", "/search/jql", json_body=body)
                page = self._json(response)
                for bean in page.get("issues") or []:
                    yield self._issue(response, bean)
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
                token = page.get("nextPageToken")
                if page.get("isLast", token is None) or not token:
                    return
        else:
            start = 0
            while True:
                params = {"jql": jql, "startAt": str(start), "maxResults": str(size),
                          "fields": ",".join(ISSUE_FIELDS), "properties": self.settings.property_key}
                response = await self._send("GET", "/search", params=params)
                page = self._json(response)
                issues = page.get("issues") or []
                for bean in issues:
                    yield self._issue(response, bean)
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
                start += len(issues)
                if not issues or start >= int(page.get("total", 0)):
                    return

    def fingerprint_jql(self, fingerprint: str) -> str:
        """The JQL that finds the issue(s) for ``fingerprint``, per ``fingerprint_lookup``."""
        if self.settings.fingerprint_lookup == "property":
            clause = (f"issue.property[{self.settings.property_key}].fingerprint = "
                      f"{jql_string(fingerprint)}")
        else:
            clause = f"labels = {jql_string(self.settings.fingerprint_label(fingerprint))}"
        return clause + " ORDER BY created ASC"

    async def find_by_fingerprint(self, fingerprint: str) -> JiraIssue | None:
        """The issue tracking ``fingerprint`` (the oldest if several), or None.

        The sink calls this before creating, so an issue created just before a crash (offset not
        committed, state not written) is found instead of duplicated. Jira search is eventually
        consistent: an issue created a moment ago may not be visible yet.
        """
        found = [issue async for issue in self.search(self.fingerprint_jql(fingerprint), limit=10)]
        if len(found) > 1:
            logger.warning("jira duplicate issues for fingerprint count=%d keys=%s",
                           len(found), ",".join(i.key for i in found))
        return found[0] if found else None

    # -- comments ------------------------------------------------------------------------------

    async def add_comment(self, key: str, body: dict[str, Any] | str) -> str:
        """``POST /issue/{key}/comment`` (ADF on Cloud, wiki markup on DC); returns the comment id."""
        response = await self._send("POST", f"/issue/{quote(key, safe='')}/comment",
                                    json_body={"body": self._rich(body)})
        comment_id = str(self._json(response).get("id", ""))
        logger.info("jira comment added key=%s comment_id=%s", key, comment_id)
        return comment_id

    # -- workflow ------------------------------------------------------------------------------

    async def get_transitions(self, key: str) -> list[JiraTransition]:
        """The transitions available from the issue's current status (empty when none/no permission)."""
        response = await self._send("GET", f"/issue/{quote(key, safe='')}/transitions")
        raw = self._json(response).get("transitions") or []
        try:
            return [JiraTransition.from_json(t) for t in raw]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ResponseFormatError("transition without id", status_code=response.status_code,
                                      method="GET", path=response.request.url.path) from exc

    @staticmethod
    def pick_transition(available: Sequence[JiraTransition], names: Sequence[str],
                        categories: Sequence[str] = ()) -> JiraTransition | None:
        """The first of ``names`` available (case-insensitive), else one into ``categories``."""
        by_name = {t.name.casefold(): t for t in available}
        for name in names:
            if name.casefold() in by_name:
                return by_name[name.casefold()]
        for category in categories:
            for t in available:
                if t.to_category == category:
                    return t
        return None

    async def transition(
        self,
        key: str,
        names: Sequence[str],
        *,
        categories: Sequence[str] = (),
        comment: dict[str, Any] | str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> JiraTransition | None:
        """Move the issue by the first transition matching ``names`` or ``categories``.

        Returns the transition taken, or None when none matched (nothing is sent then). A comment
        is added in the same request.
        """
        chosen = self.pick_transition(await self.get_transitions(key), names, categories)
        if chosen is None:
            return None
        body: dict[str, Any] = {"transition": {"id": chosen.id}}
        if fields:
            body["fields"] = fields
        if comment is not None:
            body["update"] = {"comment": [{"add": {"body": self._rich(comment)}}]}
        await self._send("POST", f"/issue/{quote(key, safe='')}/transitions", json_body=body)
        logger.info("jira issue transitioned key=%s transition=%s to_status=%s",
                    key, chosen.name, chosen.to_status)
        return chosen

    async def resolve(self, key: str, *, comment: dict[str, Any] | str | None = None) -> JiraIssue:
        """Move the issue into a ``done`` status (no-op when it is there already).

        Tries the configured resolve names, then any transition into ``done``; when the workflow
        demands an intermediate step (To Do → In Progress → Done) it takes one ``indeterminate``
        hop first. Raises :class:`WorkflowError` when no path is found.
        """
        issue = await self.get_issue(key)
        if issue.is_done:
            return issue
        fields = {"resolution": {"name": self.settings.resolution}} if self.settings.resolution else None
        names = self.settings.transitions.resolve
        taken = await self.transition(key, names, categories=("done",), comment=comment, fields=fields)
        if taken is None and await self.transition(key, (), categories=("indeterminate",)):
            taken = await self.transition(key, names, categories=("done",), comment=comment,
                                          fields=fields)
        if taken is None:
            raise WorkflowError(f"no transition to done from status {issue.status!r}",
                                method="POST", path=f"{self.settings.api_path}/issue/{key}/transitions")
        return await self.get_issue(key)

    async def reopen(self, key: str, *, comment: dict[str, Any] | str | None = None) -> JiraIssue:
        """Move a done issue back to an open status (no-op when it is not done).

        Tries the configured reopen names, then any transition into ``new`` or ``indeterminate``;
        raises :class:`WorkflowError` when there is none.
        """
        issue = await self.get_issue(key)
        if not issue.is_done:
            return issue
        taken = await self.transition(key, self.settings.transitions.reopen,
                                      categories=("new", "indeterminate"), comment=comment)
        if taken is None:
            raise WorkflowError(f"no transition out of done from status {issue.status!r}",
                                method="POST", path=f"{self.settings.api_path}/issue/{key}/transitions")
        return await self.get_issue(key)
