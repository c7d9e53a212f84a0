"""Request and response models at the edge of the Prisma Cloud API.

Only what the pipeline relies on is modelled; alert, resource and scan items stay plain dicts
(``dict[str, Any]``) because the pipeline stores the raw JSON and the vendor adds fields freely.
``extra="allow"`` on response models keeps unknown top-level keys instead of failing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertFilter",
    "AlertPage",
    "ComputePage",
    "LoginResponse",
    "PermissionPage",
    "RemediationCli",
    "SearchPage",
    "TimeRange",
    "TimeUnit",
]

TimeUnit = Literal["minute", "hour", "day", "week", "month", "year"]
ToNow = Literal["login", "epoch", "day", "week", "month", "year"]


class AlertFilter(BaseModel):
    """One ``/v2/alert`` filter; same name repeated is OR'ed, different names AND'ed."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    operator: Literal["="] = "="


class RelativeValue(BaseModel):
    amount: int = Field(ge=0)
    unit: TimeUnit


class AbsoluteValue(BaseModel):
    startTime: int | None = None
    endTime: int


class TimeRange(BaseModel):
    """Prisma's time-range model (relative, absolute in epoch ms, or to_now)."""

    type: Literal["relative", "absolute", "to_now"]
    value: RelativeValue | AbsoluteValue | ToNow

    @classmethod
    def relative(cls, amount: int, unit: TimeUnit) -> TimeRange:
        """The last ``amount`` ``unit``s, e.g. ``TimeRange.relative(24, "hour")``."""
        return cls(type="relative", value=RelativeValue(amount=amount, unit=unit))

    @classmethod
    def absolute(cls, start_ms: int, end_ms: int) -> TimeRange:
        """From ``start_ms`` to ``end_ms`` (epoch milliseconds, inclusive)."""
        return cls(type="absolute", value=AbsoluteValue(startTime=start_ms, endTime=end_ms))

    @classmethod
    def to_now(cls, since: ToNow = "epoch") -> TimeRange:
        """Everything up to now, since ``since`` (``epoch`` means all time)."""
        return cls(type="to_now", value=since)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class LoginResponse(BaseModel):
    """``POST /login`` and ``GET /auth_token/extend`` response (``LoginResponseModel``)."""

    model_config = ConfigDict(extra="allow")

    token: str = Field(repr=False)
    message: str | None = None
    customerNames: list[dict[str, Any]] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)


class AlertPage(BaseModel):
    """One ``/v2/alert`` page.

    ``page_token`` is the token that fetched this page (None for the first); ``next_page_token``
    is what a caller checkpoints after it has processed ``items`` and passes back to resume.
    """

    items: list[dict[str, Any]]
    total_rows: int | None = None
    page_token: str | None = None
    next_page_token: str | None = None
    page_number: int = 0


class SearchPage(BaseModel):
    """One page of an RQL config search: ResourceMetaModel dicts plus the search id."""

    search_id: str | None = None
    items: list[dict[str, Any]]
    total_rows: int | None = None
    next_page_token: str | None = None


class PermissionPage(BaseModel):
    """One page of an IAM permission search (``PermissionSearchResultDataDto``): raw ``PermissionDto``
    dicts, parsed further by whoever uses them (``processors.remediation.least_privilege``)."""

    items: list[dict[str, Any]]
    total_rows: int | None = None
    next_page_token: str | None = None
    page_number: int = 0


class RemediationCli(BaseModel):
    """``POST /alert/remediation`` response (``RemediationCliModel``)."""

    model_config = ConfigDict(extra="allow")

    alertIdVsCliScript: dict[str, str] = Field(default_factory=dict)
    cliDescription: str | None = None
    cliScript: str | None = None
    scriptImpact: str | None = None


class ComputePage(BaseModel):
    """One Compute page fetched with ``limit``/``offset``; ``total_count`` from ``Total-Count``."""

    items: list[dict[str, Any]]
    offset: int
    limit: int
    total_count: int | None = None
