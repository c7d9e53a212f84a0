"""Typed settings for the Splunk HTTP Event Collector (HEC) client.

The client takes a :class:`SplunkHecSettings` and never reads the environment; it is the ``splunk``
section of the settings tree (``PRISMAFLOW_SPLUNK_*`` variables or secret files; the routing table and
retry policy keep their defaults there). Unknown keys are rejected.

Size limits: HEC refuses a whole request over ``max_content_length`` with 413. The default there
is 800 MiB since Splunk 6.5.0 but 1,000,000 bytes on Splunk Cloud and older releases, so
``max_batch_bytes`` defaults to 1,000,000 and is checked against the *uncompressed* body (the
safe side whichever size the server counts).
"""

from __future__ import annotations

import uuid

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from connectors.base import RetryPolicy
from connectors.url_fields import HttpBaseUrl
from processors.models import Module, RiskTier, Severity

__all__ = ["HecRoute", "SplunkHecSettings"]

#: HEC's per-request cap on Splunk Cloud and before 6.5.0, in bytes.
HEC_CLOUD_MAX_CONTENT_LENGTH = 1_000_000


class HecRoute(BaseModel):
    """A routing rule: events matching every given condition go to the given index/sourcetype.

    Conditions left ``None`` match anything; rules are tried in order, first match wins, and a
    target left ``None`` keeps the default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: Module | None = None
    tier: RiskTier | None = None
    severity: Severity | None = None
    index: str | None = None
    sourcetype: str | None = None
    source: str | None = None

    def matches(self, module: Module, tier: RiskTier, severity: Severity) -> bool:
        """True when every condition this rule sets holds."""
        return ((self.module is None or self.module is module)
                and (self.tier is None or self.tier is tier)
                and (self.severity is None or self.severity is severity))


class SplunkHecSettings(BaseModel):
    """Where and how to reach one HEC input, and how events are routed and batched."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpBaseUrl = Field(description="HEC base URL, https://<host>:8088 (the collector paths are added)")
    token: SecretStr = Field(description="HEC token (secret), sent as 'Authorization: Splunk <token>'")
    index: str | None = Field(default=None, description="Index; unset means the token's default index")
    sourcetype: str = Field(default="prismaflow:alert", description="Sourcetype of the events")
    source: str = Field(default="prismaflow", description="Source of the events")
    host: str = Field(default="prismaflow", description="Host field of the events")
    routes: list[HecRoute] = Field(default_factory=list)
    gzip: bool = Field(default=True, description="Compress request bodies")
    use_ack: bool = Field(default=False, description="Wait for indexer acknowledgement before committing offsets")
    channel: uuid.UUID | None = Field(
        default=None, description="X-Splunk-Request-Channel; unset: a random one per client"
    )
    ack_poll_interval_s: float = Field(default=1.0, gt=0, description="How often to ask for acknowledgements")
    ack_timeout_s: float = Field(default=60.0, gt=0, description="How long to wait for acknowledgements")
    max_batch_bytes: int = Field(
        default=HEC_CLOUD_MAX_CONTENT_LENGTH, ge=1024, description="Uncompressed request size cap (bytes)")
    max_batch_events: int = Field(default=500, ge=1, description="Events per request at most")
    request_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one request")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("token")
    @classmethod
    def _token_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _ack_timeout_covers_a_poll(self) -> SplunkHecSettings:
        if self.use_ack and self.ack_timeout_s < self.ack_poll_interval_s:
            raise ValueError("ack_timeout_s must be at least ack_poll_interval_s")
        return self
