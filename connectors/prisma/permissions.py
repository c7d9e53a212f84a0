"""Prisma's IAM permission search as the remediation planner's :class:`PermissionSearch` port.

The remediation-request stage asks, for a CIEM alert, what the alert's identity was granted and
what it used; this adapter turns that into one IAM query (``config from iam where
source.cloud.resource.id = '<id>'``), pages through :meth:`CspmClient.iter_permission_pages` and
parses every ``PermissionDto`` into a :class:`PermissionRecord`. The identity comes from the alert,
so it is checked before it goes into RQL: only the characters of an ARN or a resource id, never a
quote, so alert content cannot change the query. A record that does not parse fails the whole
search (:class:`ResponseFormatError`): a reduction from a partial list could drop a permission the
role uses.
"""

from __future__ import annotations

import logging
import re

from pydantic import ValidationError

from connectors.base import BadRequestError, ResponseFormatError
from connectors.prisma.cspm_client import CspmClient
from processors.remediation.least_privilege import PermissionRecord

__all__ = ["PrismaPermissionSearch", "identity_query"]

log = logging.getLogger(__name__)

_PATH = "/api/v1/permission"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:/_+=,.@-]{0,511}")


def identity_query(identity_id: str) -> str:
    """The IAM query for every permission of one identity; :class:`BadRequestError` for an id that
    is not plainly an ARN or a resource id (a quote, a space, a control character)."""
    if not _SAFE_ID.fullmatch(identity_id):
        raise BadRequestError(f"not an identity id that may go into RQL: {identity_id[:60]!r}",
                              method="POST", path=_PATH)
    return f"config from iam where source.cloud.resource.id = '{identity_id}'"


class PrismaPermissionSearch:
    """:class:`processors.remediation.ports.PermissionSearch` over a :class:`CspmClient` (borrowed)."""

    def __init__(self, cspm: CspmClient, *, page_size: int = 200) -> None:
        self._cspm = cspm
        self._page_size = page_size

    async def permissions_of(self, identity_id: str) -> tuple[PermissionRecord, ...]:
        records: list[PermissionRecord] = []
        async for page in self._cspm.iter_permission_pages(identity_query(identity_id), limit=self._page_size):
            for item in page.items:
                try:
                    records.append(PermissionRecord.model_validate(item))
                except ValidationError as exc:
                    raise ResponseFormatError(f"{_PATH}: a PermissionDto does not parse: {exc.error_count()} "
                                              "error(s)", method="POST", path=_PATH) from exc
        log.info("prisma permission search records=%d", len(records))
        return tuple(records)
