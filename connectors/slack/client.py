"""Posts chat notifications to a Slack incoming webhook or a Teams Workflows webhook.

:class:`ChatWebhookClient` is pure httpx (no Kafka): the chat sink builds a body with
:mod:`connectors.slack.blocks` or :mod:`connectors.slack.teams` and calls
:meth:`ChatWebhookClient.post`. Retries follow :class:`connectors.base.RetryPolicy` (transport
errors, 408, 429 with ``Retry-After``, 5xx; full-jitter backoff otherwise).

The webhook URL *is* the credential (Slack's path ``/services/T…/B…/X…``, Teams' ``sig=``
query parameter), so it is a ``SecretStr``, and unlike :func:`connectors.base.send_with_retry`
this client never puts the URL path into an error or a log line: errors carry the label
``slack-webhook`` or ``teams-workflow`` instead. (httpx's own logger prints full URLs at INFO:
keep the ``httpx`` logger at WARNING in production.)

Errors (the tree of :mod:`connectors.base`)::

    BadRequestError        400: Slack invalid_payload / no_text / invalid_blocks; Teams bad body
    AuthenticationError    401/403: Slack invalid_token / action_prohibited; Teams bad sig
    NotFoundError          404: Slack no_service / channel_not_found (webhook deleted)
    UnexpectedStatusError  410 channel_is_archived and other 4xx
    ResponseFormatError    Slack 200 whose body is not "ok"
    RetriesExhaustedError  still 429/5xx/transport error after ``retry.max_attempts``
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any, Unpack

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors.base import (ConnectorError, RateLimitedError, ResponseFormatError, RetriesExhaustedError,
                             RetryPolicy, TransientError, error_for_response)
from connectors.http_client import HttpConnector, HttpSeams

__all__ = ["ChatKind", "ChatWebhookClient", "ChatWebhookSettings"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class ChatKind(str, Enum):
    """Which chat system a webhook URL belongs to (they answer differently)."""

    SLACK = "slack"
    TEAMS = "teams"


def _default_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=4, base_delay_s=1.0, max_delay_s=30.0)


class ChatWebhookSettings(BaseModel):
    """One chat webhook: its kind and its secret URL.

    Validation errors never show the input (``hide_input_in_errors``): it would be the secret.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kind: ChatKind = Field(description="slack (Block Kit) or teams (Adaptive Card)")
    url: SecretStr = Field(description="Slack incoming webhook or Teams workflow URL (secret)")
    request_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one request")
    retry: RetryPolicy = Field(default_factory=_default_retry)

    @field_validator("url")
    @classmethod
    def _https(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")  # the value itself is never echoed
        return value


class ChatWebhookClient(HttpConnector):
    """Posts JSON bodies to one webhook, retrying per the settings' policy.

    Pass ``client`` (e.g. with ``httpx.MockTransport`` or ``ASGITransport``) in tests; otherwise
    the client owns an ``httpx.AsyncClient`` and closes it in :meth:`aclose`.
    """

    def __init__(self, settings: ChatWebhookSettings, **seams: Unpack[HttpSeams]) -> None:
        seams.setdefault("clock", time.time)  # Retry-After dates are wall-clock times
        super().__init__(settings, **seams)
        self.settings = settings
        self._label = "slack-webhook" if settings.kind is ChatKind.SLACK else "teams-workflow"

    def _scrub(self, error: ConnectorError) -> ConnectorError:
        error.path = self._label  # the URL path is the secret (Slack)
        return error

    def _check_success(self, response: httpx.Response) -> None:
        body = response.text.strip()
        if self.settings.kind is ChatKind.SLACK:
            if response.status_code != 200 or body != "ok":
                raise ResponseFormatError(
                    "slack webhook did not answer ok",
                    status_code=response.status_code, method="POST", path=self._label,
                    body_excerpt=body[:100],
                )
        elif "429" in body and response.status_code == 200:
            # Legacy O365 connectors signalled throttling in a 200 body, not as HTTP 429.
            raise RateLimitedError(
                "teams connector throttled", status_code=200, method="POST", path=self._label,
                body_excerpt=body[:100],
            )

    async def post(self, payload: Mapping[str, Any]) -> None:
        """Post ``payload`` as JSON; return once the webhook accepted it.

        Slack accepts with ``200 ok``; Teams Workflows with ``202`` (empty body; a card that
        fails to render shows only in the flow's run history), legacy connectors ``200 1``.
        Raises the errors listed in the module docstring.
        """
        policy = self.settings.retry
        last: TransientError | None = None
        for attempt in range(policy.max_attempts):
            started = time.perf_counter()
            try:
                response = await self._client.post(
                    self.settings.url.get_secret_value(), json=dict(payload)
                )
            except httpx.TransportError as exc:
                last = TransientError(
                    f"transport error: {type(exc).__name__}", method="POST", path=self._label
                )
                last.__cause__ = exc
            else:
                try:
                    if response.status_code >= 400:
                        raise self._scrub(error_for_response(response, now=self._clock()))
                    self._check_success(response)
                except TransientError as exc:
                    status = exc.status_code
                    if status not in (None, 200) and not policy.is_retryable_status(status):
                        raise
                    last = exc
                else:
                    logger.debug(
                        "chat posted target=%s status=%d attempt=%d elapsed_s=%.3f",
                        self._label, response.status_code, attempt + 1,
                        time.perf_counter() - started,
                    )
                    return
            if attempt + 1 >= policy.max_attempts:
                break
            delay = policy.delay_s(attempt, last, self._rng)
            logger.warning(
                "chat retry target=%s status=%s attempt=%d delay_s=%.3f reason=%s",
                self._label, last.status_code, attempt + 1, delay, type(last).__name__,
            )
            await self._sleep(delay)
        assert last is not None
        raise RetriesExhaustedError(
            f"gave up after {policy.max_attempts} attempts", last_error=last,
            attempts=policy.max_attempts,
        ) from last
