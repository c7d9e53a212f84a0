"""Async client for the Splunk HTTP Event Collector: batched events, gzip, indexer acknowledgement.

Pure httpx, no Kafka: the Splunk sink buffers SIEM events, calls :meth:`HecClient.send`, and
advances offsets only when it returns. The contract of ``send``:

* it **returns** a :class:`SendResult` when every event was accepted (and, with ``use_ack``,
  acknowledged as indexed) or was rejected for good; rejected events are listed by their position
  in the input, each with a terminal error, for the caller to dead-letter;
* it **raises** when the caller must not advance: :class:`RetriesExhaustedError` (HEC busy,
  5xx, transport errors beyond the retry policy), :class:`AckTimeoutError` (a transient error: not
  acknowledged in time), :class:`AuthenticationError` (token errors, HEC codes 1-4 and 16), or
  :class:`HecRejectedError` for problems no event can fix (channel or ack misconfiguration).
  Batches sent before the failure may already be indexed: a resend duplicates them
  (at-least-once).

Errors added here, under :mod:`connectors.base`'s tree::

    BadRequestError
    ├── HecRejectedError      HEC refused data (codes 5-7, 10-15); ``hec_code``, ``invalid_event_number``
    └── EventTooLargeError    one event alone exceeds ``max_batch_bytes`` (or the server's limit)
    TransientError
    └── AckTimeoutError       acknowledgements still pending after ``ack_timeout_s``

Every HTTP exchange goes through :func:`connectors.base.send_with_retry` (code 9 "Server is busy"
is a 503, so it is retried with backoff like any 5xx). A 413 from a server whose limit is below
``max_batch_bytes`` splits the batch in halves and sends those.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Unpack

import httpx

from connectors.base import (
    AuthenticationError,
    BadRequestError,
    ConnectorError,
    ResponseFormatError,
    RetriesExhaustedError,
    RetryPolicy,
    TransientError,
    UnexpectedStatusError,
    send_with_retry,
)
from connectors.http_client import HttpConnector, HttpSeams
from connectors.splunk.events import HecEvent
from connectors.splunk.settings import SplunkHecSettings

__all__ = [
    "AckTimeoutError",
    "EventTooLargeError",
    "HecClient",
    "HecHealth",
    "HecRejectedError",
    "RejectedEvent",
    "SendResult",
]

logger = logging.getLogger(__name__)

EVENT_PATH = "/services/collector/event"
ACK_PATH = "/services/collector/ack"
HEALTH_PATH = "/services/collector/health"
#: HEC codes that mean the token (or how it was sent) is wrong.
_TOKEN_CODES = frozenset({1, 2, 3, 4, 16, 21, 22})
#: HEC codes that blame one event (the one at ``invalid-event-number`` when given).
_EVENT_CODES = frozenset({6, 7, 12, 13, 15})


class HecRejectedError(BadRequestError):
    """HEC refused the data with a 400 ``{"text", "code"}``; sending it again will fail again."""

    def __init__(self, message: str, *, hec_code: int | None, invalid_event_number: int | None,
                 cause: ConnectorError) -> None:
        super().__init__(message, **cause.failed_request())
        self.hec_code = hec_code
        self.invalid_event_number = invalid_event_number


class EventTooLargeError(BadRequestError):
    """One event is larger than a request may be; it can never be sent and is dead-lettered."""


class AckTimeoutError(TransientError):
    """Sent, but not acknowledged as indexed in time; do not advance, send again later."""


@dataclass(frozen=True)
class RejectedEvent:
    """An event HEC will never take: ``position`` in the list given to ``send``, and why."""

    position: int
    key: str
    error: ConnectorError


@dataclass(frozen=True)
class SendResult:
    """What one :meth:`HecClient.send` did."""

    sent: int
    batches: int
    bytes_sent: int
    ack_ids: tuple[int, ...] = ()
    rejected: tuple[RejectedEvent, ...] = ()


@dataclass(frozen=True)
class HecHealth:
    """``/services/collector/health``: code 17 healthy; 18-20 queues full or ack unavailable."""

    healthy: bool
    code: int | None
    text: str


def _hec_body(excerpt: str) -> dict[str, Any]:
    try:
        body = json.loads(excerpt)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class HecClient(HttpConnector):
    """One HEC input. Use as ``async with HecClient(settings) as hec: await hec.send(events)``.

    ``client`` is borrowed when given (tests pass one over ``httpx.ASGITransport``). ``clock``
    (monotonic seconds) and ``sleep`` time the ack polling; ``sleep`` and ``rng`` are also the
    retry policy's seams.
    """

    def __init__(self, settings: SplunkHecSettings, **seams: Unpack[HttpSeams]) -> None:
        self._settings = settings
        super().__init__(settings, **seams)
        self.channel = str(settings.channel or uuid.uuid4())

    # -- sending -----------------------------------------------------------------------------------

    async def send(self, events: Sequence[HecEvent]) -> SendResult:
        """Send ``events`` in batches under the size and count limits; see the module docstring."""
        started = time.perf_counter()
        rejected: list[RejectedEvent] = []
        queue: list[list[tuple[int, bytes]]] = []
        batch: list[tuple[int, bytes]] = []
        size = 0
        limit = self._settings.max_batch_bytes
        for position, event in enumerate(events):
            data = event.encode()
            if len(data) > limit:
                rejected.append(RejectedEvent(position, event.key, EventTooLargeError(
                    f"event of {len(data)} bytes exceeds max_batch_bytes={limit}",
                    method="POST", path=EVENT_PATH)))
                continue
            if batch and (size + 1 + len(data) > limit
                          or len(batch) >= self._settings.max_batch_events):
                queue.append(batch)
                batch, size = [], 0
            size += len(data) + (1 if batch else 0)
            batch.append((position, data))
        if batch:
            queue.append(batch)
        sent = batches = bytes_sent = 0
        ack_ids: list[int] = []
        while queue:
            batch = queue.pop(0)
            outcome = await self._send_batch(batch, events, rejected)
            if isinstance(outcome, list):  # split or trimmed: try these first
                queue[:0] = outcome
                continue
            ack_id, nbytes = outcome
            sent, batches, bytes_sent = sent + len(batch), batches + 1, bytes_sent + nbytes
            if ack_id is not None:
                ack_ids.append(ack_id)
        if ack_ids:
            await self._wait_for_acks(ack_ids)
        rejected.sort(key=lambda r: r.position)
        logger.info("hec send events=%d sent=%d batches=%d bytes=%d rejected=%d acks=%d "
                    "elapsed_s=%.3f", len(events), sent, batches, bytes_sent, len(rejected),
                    len(ack_ids), time.perf_counter() - started)
        return SendResult(sent, batches, bytes_sent, tuple(ack_ids), tuple(rejected))

    async def _send_batch(
        self, batch: list[tuple[int, bytes]], events: Sequence[HecEvent],
        rejected: list[RejectedEvent],
    ) -> tuple[int | None, int] | list[list[tuple[int, bytes]]]:
        """POST one batch: ``(ack_id, bytes)`` on success, or smaller batches to send instead."""
        body = b"\n".join(data for _, data in batch)
        try:
            response = await self._post(EVENT_PATH, body)
        except UnexpectedStatusError as exc:
            if exc.status_code != 413:
                raise
            if len(batch) > 1:
                half = len(batch) // 2
                logger.warning("hec 413 splitting events=%d bytes=%d", len(batch), len(body))
                return [batch[:half], batch[half:]]
            position = batch[0][0]
            rejected.append(RejectedEvent(position, events[position].key, EventTooLargeError(
                "event refused as too large by the server", status_code=413, method=exc.method,
                path=exc.path, body_excerpt=exc.body_excerpt)))
            return []
        except HecRejectedError as exc:
            number = exc.invalid_event_number
            if exc.hec_code not in _EVENT_CODES:
                raise
            if number is None or not 0 <= number < len(batch):
                bad, rest = batch, []
            else:
                bad, rest = [batch[number]], batch[:number] + batch[number + 1:]
            for position, _ in bad:
                rejected.append(RejectedEvent(position, events[position].key, exc))
            logger.warning("hec rejected code=%s events=%d resend=%d", exc.hec_code, len(bad),
                           len(rest))
            return [rest] if rest else []
        ack_id: int | None = None
        if self._settings.use_ack:
            reply = _hec_body(response.text)
            if not isinstance(reply.get("ackId"), int):
                raise ResponseFormatError(
                    "no ackId in the reply: is indexer acknowledgement on for this token?",
                    status_code=response.status_code, method="POST", path=EVENT_PATH,
                    body_excerpt=response.text[:120])
            ack_id = int(reply["ackId"])
        return ack_id, len(body)

    async def _wait_for_acks(self, ack_ids: list[int]) -> None:
        """Poll ``/ack`` until every id is true; :class:`AckTimeoutError` after the timeout."""
        pending = set(ack_ids)
        deadline = self._clock() + self._settings.ack_timeout_s
        polls = 0
        while True:
            polls += 1
            payload = json.dumps({"acks": sorted(pending)}).encode()
            response = await self._post(ACK_PATH, payload, compress=False)
            acks = _hec_body(response.text).get("acks")
            if not isinstance(acks, dict):
                raise ResponseFormatError("ack reply has no acks object", status_code=200,
                                          method="POST", path=ACK_PATH,
                                          body_excerpt=response.text[:120])
            pending -= {int(k) for k, done in acks.items() if done is True}
            if not pending:
                logger.debug("hec acked ids=%d polls=%d", len(ack_ids), polls)
                return
            if self._clock() + self._settings.ack_poll_interval_s > deadline:
                raise AckTimeoutError(
                    f"{len(pending)} of {len(ack_ids)} batches not acknowledged within "
                    f"{self._settings.ack_timeout_s:g}s", method="POST", path=ACK_PATH)
            await self._sleep(self._settings.ack_poll_interval_s)

    async def health(self) -> HecHealth:
        """``GET /services/collector/health``, tried once: healthy, or why not."""
        try:
            response = await self._request("GET", HEALTH_PATH, None, RetryPolicy(max_attempts=1))
        except RetriesExhaustedError as exc:
            body = _hec_body(exc.body_excerpt)
            return HecHealth(False, body.get("code"), str(body.get("text", exc.message)))
        body = _hec_body(response.text)
        return HecHealth(body.get("code") == 17, body.get("code"), str(body.get("text", "")))

    # -- plumbing ----------------------------------------------------------------------------------

    async def _post(self, path: str, body: bytes, *, compress: bool = True) -> httpx.Response:
        if compress and self._settings.gzip:
            return await self._request("POST", path, gzip.compress(body, mtime=0), self._retry,
                                       gzipped=True)
        return await self._request("POST", path, body, self._retry)

    async def _request(self, method: str, path: str, body: bytes | None, policy: RetryPolicy,
                       *, gzipped: bool = False) -> httpx.Response:
        url = self._settings.url + path

        def build() -> httpx.Request:
            headers = {"Authorization": f"Splunk {self._settings.token.get_secret_value()}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            if gzipped:
                headers["Content-Encoding"] = "gzip"
            if self._settings.use_ack or self._settings.channel is not None:
                headers["X-Splunk-Request-Channel"] = self.channel
            return self._client.build_request(method, url, content=body, headers=headers)

        try:
            return await send_with_retry(self._client, build, policy, sleep=self._sleep,
                                         rng=self._rng)
        except BadRequestError as exc:
            reply = _hec_body(exc.body_excerpt)
            code = reply.get("code") if isinstance(reply.get("code"), int) else None
            text = str(reply.get("text", exc.message))
            if code in _TOKEN_CODES:
                raise AuthenticationError(f"HEC token rejected: {text} (code {code})",
                                          **exc.failed_request()) from exc
            number = reply.get("invalid-event-number")
            raise HecRejectedError(
                f"HEC rejected the request: {text} (code {code})", hec_code=code,
                invalid_event_number=number if isinstance(number, int) else None, cause=exc,
            ) from exc
