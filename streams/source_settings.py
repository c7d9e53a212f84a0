"""The env-facing settings of the Prisma Cloud sources: the pollers and the webhook receiver.

Moved here verbatim from ``connectors/prisma/{source,webhook}.py`` so that ``connectors/`` imports
nothing from ``streams/`` (their base, :class:`streams.settings._Settings`, is the stream layer's).
The connector code reads them through the protocols it declares (``PollerConfig``,
``ReceiverConfig``); :mod:`streams.sources` builds them from the environment.
"""

from __future__ import annotations

import socket
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from processors.strict_json import JsonLimits
from streams.settings import _Settings
from streams.topics import DLQ, RAW_ALERTS

__all__ = ["PollerSettings", "WebhookSettings"]


class PollerSettings(_Settings):
    """How often and how far back the pollers look."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_POLLER_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Prisma Cloud pollers"

    interval_s: float = Field(default=60.0, gt=0, description="Seconds between the starts of two polls")
    look_back_s: float = Field(
        default=900.0, ge=0, description="Each window starts this long before the previous window's end")
    initial_look_back_s: float = Field(
        default=86400.0, gt=0, description="How far back the very first window reaches")
    tenant: str = Field(default="default", description="Tenant label; also names the checkpoint")
    raw_topic: str = Field(default=RAW_ALERTS.name, description="Topic the pollers write to")
    dlq_topic: str = Field(default=DLQ.name, description="Topic for records refused at the edge")
    compute_enabled: bool = Field(default=True, description="Poll the Compute API as well")
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Port for the pollers' /metrics; 0 turns it off")



class WebhookSettings(_Settings):
    """The webhook receiver's listener, authentication and limits."""

    model_config = SettingsConfigDict(env_prefix="PRISMAFLOW_WEBHOOK_", extra="forbid", env_ignore_empty=True)
    component: ClassVar[str] = "Webhook receiver"

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
    raw_topic: str = Field(default=RAW_ALERTS.name, description="Topic for accepted alerts")
    dlq_topic: str = Field(default=DLQ.name, description="Topic for rejected records")
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
