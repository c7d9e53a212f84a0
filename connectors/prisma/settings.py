"""Typed settings for the Prisma Cloud CSPM and Compute clients.

The clients take a :class:`PrismaSettings` and never read the environment themselves; the
streams layer builds one (from ``PRISMAFLOW_PRISMA_*`` variables or secret files) and passes it in.
Unknown keys are rejected so a typo in a setting name fails at start-up, not at 3 a.m.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import RetryPolicy

__all__ = ["PrismaSettings"]


class PrismaSettings(BaseModel):
    """Where and how to reach one Prisma Cloud tenant.

    ``username``/``password`` are the CSPM access key ID and secret key. On SaaS the Compute console
    accepts the same key pair, so ``compute_username``/``compute_password`` default to them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str = Field(
        default="https://api.prismacloud.io",
        description="CSPM API base URL of the tenant's stack (api*.prismacloud.io).",
    )
    username: str = Field(min_length=1, description="Access key ID.")
    password: SecretStr = Field(description="Secret key.")
    prisma_id: str | None = Field(default=None, description="Tenant id for multi-tenant users.")
    compute_url: str | None = Field(
        default=None,
        description="Compute console base, e.g. https://us-west1.cloud.twistlock.com/us-1-2345678.",
    )
    compute_username: str | None = None
    compute_password: SecretStr | None = None
    compute_api_version: str = Field(
        default="v1", pattern=r"^v[0-9.]+$", description="Path version: v1 or e.g. v34.03."
    )
    request_timeout_s: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=1000, ge=1, le=10_000, description="/v2/alert page size.")
    compute_page_size: int = Field(default=50, ge=1, le=250, description="Compute limit param.")
    token_ttl_s: float = Field(default=600.0, gt=0, description="CSPM JWT lifetime (10 min).")
    token_refresh_margin_s: float = Field(
        default=60.0, ge=0, description="Extend the CSPM token this long before it expires."
    )
    compute_token_ttl_s: float = Field(
        default=600.0,
        gt=0,
        description="Re-authenticate to Compute after this long (SaaS wraps a 10-min token).",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("api_url", "compute_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _margin_below_ttl(self) -> PrismaSettings:
        if self.token_refresh_margin_s >= self.token_ttl_s:
            raise ValueError("token_refresh_margin_s must be smaller than token_ttl_s")
        return self

    @property
    def compute_credentials(self) -> tuple[str, SecretStr]:
        """The Compute key pair: the explicit one, else the CSPM access key (SaaS behaviour)."""
        user = self.compute_username or self.username
        secret = self.compute_password or self.password
        return user, secret
