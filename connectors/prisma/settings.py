"""Typed settings for the Prisma Cloud CSPM and Compute clients, the pollers and the webhook receiver.

The clients take a :class:`PrismaSettings` and never read the environment themselves; it is the
``prisma`` section of the settings tree (``PRISMAFLOW_PRISMA_*`` variables or secret files; the key pair
is ``PRISMAFLOW_PRISMA_ACCESS_KEY_ID`` / ``PRISMAFLOW_PRISMA_SECRET_KEY``).
:class:`PollerSettings` and :class:`WebhookSettings` are the pollers' and the receiver's own models and
the ``poller`` and ``webhook`` sections of the settings tree (``PRISMAFLOW_POLLER_*``,
``PRISMAFLOW_WEBHOOK_*``). Unknown keys are rejected so a typo in a setting name fails at start-up,
not at 3 a.m.
"""

from __future__ import annotations

import socket

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.base import RetryPolicy
from connectors.url_fields import HttpBaseUrl
from processors.strict_json import JsonLimits

__all__ = ["DLQ_TOPIC", "RAW_ALERTS_TOPIC", "PollerSettings", "PrismaSettings", "WebhookSettings"]

#: The topics the sources write to unless told otherwise: the catalogue's ``prisma.alerts.raw`` and
#: ``prisma.dlq`` (``streams.topics``; a test keeps the names equal, connectors do not import streams).
RAW_ALERTS_TOPIC = "prisma.alerts.raw"
DLQ_TOPIC = "prisma.dlq"


class PrismaSettings(BaseModel):
    """Where and how to reach one Prisma Cloud tenant.

    ``username``/``password`` are the CSPM access key ID and secret key. On SaaS the Compute console
    accepts the same key pair, so ``compute_username``/``compute_password`` default to them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: HttpBaseUrl = Field(
        default="https://api.prismacloud.io",
        description="CSPM API base URL (your tenant's api*.prismacloud.io)",
    )
    username: str = Field(min_length=1, description="Access key ID")
    password: SecretStr = Field(description="Secret key (secret)")
    prisma_id: str | None = Field(default=None, description="Tenant id, for users of several tenants")
    compute_url: HttpBaseUrl | None = Field(
        default=None,
        description="Compute console URL, e.g. https://us-west1.cloud.twistlock.com/us-1-2345678; "
        "unset disables the Compute poller",
    )
    compute_username: str | None = Field(
        default=None, description="Compute access key ID; unset: the CSPM one (SaaS accepts it)")
    compute_password: SecretStr | None = Field(
        default=None, description="Compute secret key (secret); unset: the CSPM one")
    compute_api_version: str = Field(
        default="v1", pattern=r"^v[0-9.]+$", description="Compute API path version: v1 or e.g. v34.03"
    )
    request_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one request")
    page_size: int = Field(default=1000, ge=1, le=10_000, description="/v2/alert page size")
    compute_page_size: int = Field(default=50, ge=1, le=250, description="Compute page size (its limit parameter)")
    token_ttl_s: float = Field(default=600.0, gt=0, description="CSPM token lifetime (10 min)")
    token_refresh_margin_s: float = Field(
        default=60.0, ge=0, description="Extend the CSPM token this long before it expires"
    )
    compute_token_ttl_s: float = Field(
        default=600.0,
        gt=0,
        description="Re-authenticate to Compute after this long (SaaS wraps a 10-min token)",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

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


class PollerSettings(BaseModel):
    """How often and how far back the pollers look."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_s: float = Field(default=60.0, gt=0, description="Seconds between the starts of two polls")
    look_back_s: float = Field(
        default=900.0, ge=0, description="Each window starts this long before the previous window's end")
    initial_look_back_s: float = Field(
        default=86400.0, gt=0, description="How far back the very first window reaches")
    tenant: str = Field(default="default", description="Tenant label; also names the checkpoint")
    raw_topic: str = Field(default=RAW_ALERTS_TOPIC, description="Topic the pollers write to")
    dlq_topic: str = Field(default=DLQ_TOPIC, description="Topic for records refused at the edge")
    compute_enabled: bool = Field(default=True, description="Poll the Compute API as well")
    metrics_port: int = Field(default=0, ge=0, le=65535,
                              description="Port for the pollers' /metrics, /healthz and /readyz; 0 turns it off")
    metrics_addr: str = Field(default="0.0.0.0", description="Address the pollers' metrics endpoint listens on "
                                                             "(every address by default; 127.0.0.1 keeps it to the host)")


class WebhookSettings(BaseModel):
    """The webhook receiver's listener, authentication and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address to listen on")
    port: int = Field(default=8088, ge=1, le=65535, description="Port to listen on")
    auth_header: str = Field(default="Authorization", description="Request header that carries the token")
    auth_token: SecretStr | None = Field(
        default=None,
        description="Expected header value, e.g. `Bearer <token>` (secret; required unless "
        "PRISMAFLOW_WEBHOOK_ALLOW_UNAUTHENTICATED=true)",
    )
    allow_unauthenticated: bool = Field(default=False, description="Accept requests without a token (tests only)")
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Larger requests get 413")
    tenant: str = Field(default="default", description="Tenant label written on every raw alert")
    raw_topic: str = Field(default=RAW_ALERTS_TOPIC, description="Topic for accepted alerts")
    dlq_topic: str = Field(default=DLQ_TOPIC, description="Topic for rejected records")
    max_json_depth: int = Field(default=64, ge=4, le=512, description="Deeper nesting of the body gets 400")
    max_json_string_chars: int = Field(default=1024 * 1024, ge=1024, description="Longer strings get 400")
    max_json_number_chars: int = Field(default=100, ge=20, description="Longer number literals get 400")
    max_json_array_items: int = Field(default=100_000, ge=100, description="Longer arrays get 400")
    max_json_object_members: int = Field(default=10_000, ge=100, description="Larger objects get 400")
    max_record_bytes: int = Field(
        default=1_000_000, ge=10_000,
        description="Larger encoded alerts are dead-lettered; keep it at or below the raw topic's max.message.bytes "
        "and the producer's message.max.bytes")
    dlq_excerpt_bytes: int = Field(default=64 * 1024, ge=256, description="Bytes of a rejected record kept in its dead letter")
    write_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Answer 503 when Kafka has not confirmed by then")
    retry_after_s: int = Field(default=10, ge=1, description="Retry-After of a 503 answer (seconds)")
    transactional_id: str | None = Field(
        default=None,
        description="Kafka transactional id of this receiver: distinct per replica, stable across its restarts "
        "(unset: prismaflow-webhook-<host name>)")

    def json_limits(self) -> JsonLimits:
        """The parsing limits these settings give."""
        return JsonLimits(max_depth=self.max_json_depth, max_string_chars=self.max_json_string_chars,
                          max_number_chars=self.max_json_number_chars, max_array_items=self.max_json_array_items,
                          max_object_members=self.max_json_object_members)

    def effective_transactional_id(self) -> str:
        """The transactional id the receiver's publisher uses."""
        return self.transactional_id or f"prismaflow-webhook-{socket.gethostname()}"
