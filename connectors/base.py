"""The one HTTP retry policy and the error tree every Prismaflow connector shares.

Every connector sends its HTTP requests through :func:`send_with_retry`, so every connector retries,
backs off and fails the same way. Foreign errors are translated into our own classes here, once::

    ExternalServiceError                 (processors.errors)
    └── ConnectorError                   any failure talking to an outside system
        ├── TransientError               transport error, timeout, 408 or 5xx: worth retrying
        │   └── RateLimitedError         429; carries the wait the server asked for
        ├── AuthenticationError          401 / 403: credentials or token rejected
        ├── NotFoundError                404
        ├── BadRequestError              400 / 422: our request is wrong; retrying will not help
        ├── UnexpectedStatusError        any other 4xx (405, 409, ...)
        ├── ResponseFormatError          2xx whose body is not what the API documents
        └── RetriesExhaustedError        the policy gave up; ``last_error`` holds the final cause

A sink adapter turns these into the sink ports' signals (:mod:`connectors.ports`) with
:func:`connectors.sink_signals.sink_signals`, so the stream layer's sink worker never sees an HTTP
error class.

Each error carries the HTTP method, the URL *path* (never the query string, the host's credentials
or any header) and a short excerpt of the response body, so a log line or a dead-letter reason
identifies the call without leaking a token.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Self, TypedDict, Unpack

import httpx

from processors.errors import ExternalServiceError

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "AsyncClosing",
    "ConnectorError",
    "FailedRequest",
    "NotFoundError",
    "RateLimitedError",
    "ResponseFormatError",
    "RetriesExhaustedError",
    "RetryPolicy",
    "TransientError",
    "UnexpectedStatusError",
    "error_for_response",
    "send_with_retry",
]

logger = logging.getLogger(__name__)

#: How much of a response body an error keeps: enough to read an error code, never a payload.
BODY_EXCERPT_CHARS = 300

#: Headers that carry an error detail when the body is empty (Prisma Cloud CSPM puts a JSON array
#: of ``{i18nKey, severity, subject}`` into ``x-redlock-status``). They never carry secrets.
_DETAIL_HEADERS = ("x-redlock-status",)

Sleep = Callable[[float], Awaitable[None]]
RequestFactory = Callable[[], httpx.Request]


class FailedRequest(TypedDict, total=False):
    """Which request failed and how, as far as known: the keywords every :class:`ConnectorError` takes.

    ``status_code`` is ``None`` (the default) when no response arrived (a transport error).
    """

    status_code: int | None
    method: str
    path: str
    body_excerpt: str


class ConnectorError(ExternalServiceError):
    """A call to an outside system failed; ``request`` (:class:`FailedRequest`) says which and how."""

    def __init__(self, message: str, **request: Unpack[FailedRequest]) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = request.get("status_code")
        self.method = request.get("method", "")
        self.path = request.get("path", "")
        self.body_excerpt = request.get("body_excerpt", "")

    def failed_request(self) -> FailedRequest:
        """This error's request keywords, for another error about the same request."""
        return FailedRequest(status_code=self.status_code, method=self.method, path=self.path,
                             body_excerpt=self.body_excerpt)

    @classmethod
    def about(cls, response: httpx.Response, message: str, *, with_body: bool = False) -> Self:
        """This error for ``response``: its status, method and path, and with ``with_body`` the
        first 120 characters of its body."""
        return cls(message, status_code=response.status_code, method=response.request.method,
                   path=response.request.url.path, body_excerpt=response.text[:120] if with_body else "")

    def __str__(self) -> str:
        parts = [self.message]
        if self.method or self.path:
            parts.append(f"method={self.method} path={self.path}")
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.body_excerpt:
            parts.append(f"body={self.body_excerpt!r}")
        return " ".join(parts)


class TransientError(ConnectorError):
    """The far side is unavailable or slow (transport error, timeout, 408, 5xx); retrying may help."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **request: Unpack[FailedRequest]) -> None:
        super().__init__(message, **request)
        self.retry_after_s = retry_after_s


class RateLimitedError(TransientError):
    """HTTP 429. ``retry_after_s`` is the wait the server asked for, when it said one."""


class AuthenticationError(ConnectorError):
    """HTTP 401 or 403: the credentials or the token were rejected."""


class NotFoundError(ConnectorError):
    """HTTP 404: the object does not exist (or is not visible to this user)."""


class BadRequestError(ConnectorError):
    """HTTP 400 or 422: the request is invalid; sending it again will fail again."""


class UnexpectedStatusError(ConnectorError):
    """Any other 4xx status, e.g. 405 ``remediation_unavailable`` or 409."""


class ResponseFormatError(ConnectorError):
    """A successful response whose body does not have the documented shape."""


class RetriesExhaustedError(ConnectorError):
    """The retry policy gave up; ``last_error`` is the transient failure of the final attempt."""

    def __init__(self, message: str, *, last_error: ConnectorError, attempts: int) -> None:
        super().__init__(message, **last_error.failed_request())
        self.last_error = last_error
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """How a connector retries one HTTP call.

    Retries transport errors (timeouts included), 408, 429 and every 5xx, at most ``max_attempts``
    sends in all. Between attempts it waits a full-jitter exponential backoff,
    ``uniform(0, min(max_delay_s, base_delay_s * 2**retry))``, unless the server said how long to
    wait (``Retry-After`` in seconds or as an HTTP date, or Prisma's ``X-RateLimit-*`` headers on a
    429), in which case it waits that long, capped at ``max_server_delay_s``.
    """

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_server_delay_s: float = 60.0
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({408, 425, 429}))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_server_delay_s < 0:
            raise ValueError("delays must not be negative")

    def is_retryable_status(self, status_code: int) -> bool:
        """True for the statuses this policy retries: 408, 425, 429 and all of 5xx."""
        return status_code in self.retry_statuses or 500 <= status_code <= 599

    def backoff_s(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """The full-jitter wait before retry number ``retry`` (0 for the first retry)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2.0**retry))
        return rng() * ceiling

    def delay_s(
        self,
        retry: int,
        error: TransientError,
        rng: Callable[[], float] = random.random,
    ) -> float:
        """The wait before the next attempt: the server's hint (capped) or the jittered backoff."""
        if error.retry_after_s is not None:
            return min(max(error.retry_after_s, 0.0), self.max_server_delay_s)
        return self.backoff_s(retry, rng)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date), else None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _rate_limit_wait(headers: httpx.Headers) -> float | None:
    """The wait Prisma's token-bucket headers imply once ``X-RateLimit-Remaining`` hits 0.

    Prisma CSPM refills ``X-RateLimit-Replenish-Rate`` tokens per second and a call costs
    ``X-RateLimit-Requested-Tokens`` (1 when absent), so one call's worth of tokens is back after
    requested / rate seconds.
    """
    remaining = headers.get("x-ratelimit-remaining")
    rate = headers.get("x-ratelimit-replenish-rate")
    if remaining is None or rate is None:
        return None
    try:
        if float(remaining) > 0:
            return None
        rate_per_s = float(rate)
        requested = float(headers.get("x-ratelimit-requested-tokens", "1"))
    except ValueError:
        return None
    if rate_per_s <= 0:
        return None
    return requested / rate_per_s


def _excerpt(response: httpx.Response) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        text = ""
    text = " ".join(text.split())
    if not text:
        for name in _DETAIL_HEADERS:
            if name in response.headers:
                text = f"{name}: {response.headers[name]}"
                break
    return text[:BODY_EXCERPT_CHARS]


def error_for_response(
    response: httpx.Response, *, now: float | None = None
) -> ConnectorError:
    """Translate an error response (status >= 400) into the most specific :class:`ConnectorError`."""
    request = response.request
    status = response.status_code
    method, path, excerpt = request.method, request.url.path, _excerpt(response)
    if status == 429:
        wait = parse_retry_after(response.headers.get("retry-after"), now=now)
        if wait is None:
            wait = _rate_limit_wait(response.headers)
        return RateLimitedError(
            "rate limited", retry_after_s=wait, status_code=status, method=method, path=path,
            body_excerpt=excerpt,
        )
    if status in (408, 425) or 500 <= status <= 599:
        wait = parse_retry_after(response.headers.get("retry-after"), now=now)
        return TransientError(
            "server unavailable", retry_after_s=wait, status_code=status, method=method,
            path=path, body_excerpt=excerpt,
        )
    cls: type[ConnectorError]
    if status in (401, 403):
        cls, message = AuthenticationError, "authentication rejected"
    elif status == 404:
        cls, message = NotFoundError, "not found"
    elif status in (400, 422):
        cls, message = BadRequestError, "request rejected"
    else:
        cls, message = UnexpectedStatusError, "unexpected status"
    return cls(message, status_code=status, method=method, path=path, body_excerpt=excerpt)


#: Transport errors raised before the request left, and answers that say the server did not act on
#: it (unlike a 500/502/504, which may come after it acted): safe to send again.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_REFUSED_WITHOUT_ACTING = frozenset({408, 425, 429, 503})


async def send_with_retry(
    client: httpx.AsyncClient,
    request_factory: RequestFactory,
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.time,
    replay_safe: bool = True,
) -> httpx.Response:
    """Send the request ``request_factory`` builds, retrying per ``policy``; return the response.

    The factory is called once per attempt, so a caller can put a fresh token into each attempt.
    ``replay_safe=False`` marks a request that must not be sent twice (it creates a ticket): it is
    retried only when it surely did not take effect (no connection; 408, 425, 429, 503). A timeout
    or broken connection after sending is ambiguous, so it is raised at once as a
    :class:`TransientError`: the caller looks for what it may have created.
    Returns any response below 400 (body read). Raises :class:`AuthenticationError`,
    :class:`NotFoundError`, :class:`BadRequestError` or :class:`UnexpectedStatusError` at once for
    other 4xx, and :class:`RetriesExhaustedError` when the last allowed attempt still failed
    transiently. ``sleep``, ``rng`` and ``clock`` are seams for tests (no real sleeping).
    """
    last: TransientError | None = None
    for attempt in range(policy.max_attempts):
        request = request_factory()
        started = time.perf_counter()
        try:
            response = await client.send(request)
            await response.aread()
        except httpx.UnsupportedProtocol as exc:
            raise ConnectorError(
                "unsupported URL scheme", method=request.method, path=request.url.path
            ) from exc
        except httpx.TransportError as exc:
            last = TransientError(
                f"transport error: {type(exc).__name__}",
                method=request.method,
                path=request.url.path,
            )
            last.__cause__ = exc
            if not replay_safe and not isinstance(exc, _NEVER_SENT):
                raise last from exc  # it may have taken effect: sending it again could do it twice
        else:
            if response.status_code < 400:
                logger.debug(
                    "http ok method=%s path=%s status=%d attempt=%d elapsed_s=%.3f",
                    request.method,
                    request.url.path,
                    response.status_code,
                    attempt + 1,
                    time.perf_counter() - started,
                )
                return response
            error = error_for_response(response, now=clock())
            if not (
                isinstance(error, TransientError)
                and policy.is_retryable_status(response.status_code)
                and (replay_safe or response.status_code in _REFUSED_WITHOUT_ACTING)
            ):
                raise error
            last = error
        if attempt + 1 >= policy.max_attempts:
            break
        delay = policy.delay_s(attempt, last, rng)
        logger.warning(
            "http retry method=%s path=%s status=%s attempt=%d delay_s=%.3f reason=%s",
            last.method,
            last.path,
            last.status_code,
            attempt + 1,
            delay,
            type(last).__name__,
        )
        await sleep(delay)
    assert last is not None  # the loop ran at least once and only breaks after a failure
    raise RetriesExhaustedError(
        f"gave up after {policy.max_attempts} attempts", last_error=last, attempts=policy.max_attempts
    ) from last


class AsyncClosing:
    """``async with`` for a connector client: leaving the block calls :meth:`aclose`."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release what the client holds (connections, an HTTP client it created)."""
