"""The webhook receiver: Prisma Cloud pushes alerts here, and they land on ``prisma.alerts.raw``.

An ASGI app (run it with uvicorn: ``prismaflow webhook``) with two endpoints:

- ``POST /webhooks/prisma/cspm`` — the CSPM webhook integration's body, a JSON array of alert
  notifications (reference §7.1-7.2).
- ``POST /webhooks/prisma/compute`` — a Compute alert profile's webhook with the default template, a
  JSON object (reference §7.3).

Authentication: the request must carry the configured header (default ``Authorization``) with the
configured token, compared in constant time; configure Prisma Cloud's webhook integration with that
custom header (CSPM) or the Basic credential whose header value you configure here (Compute). TLS is
left to the deployer (a TLS-terminating proxy, or uvicorn's ``--ssl-*`` options).

A request is validated whole before anything is written, then written whole:

1. The body is parsed within limits (:mod:`processors.strict_json`: depth, number, string, array and
   object sizes, no ``NaN``/``Infinity``); a body that fails gets 400, the wrong shape 422, an
   oversized one 413, and nothing is written.
2. Every item becomes a raw alert through the edge's text rule (:mod:`processors.sanitise`: lone
   surrogates in free text become U+FFFD; a bad id or key is refused) or, if refused, a dead letter
   with the reason, the record's reference and a bounded excerpt of it.
3. A raw alert that encodes larger than a Kafka record may be is dead-lettered the same way.
4. The raw alerts and dead letters of the request are written in one transaction
   (the port :class:`connectors.ports.RecordPublisher`; :class:`streams.async_publish.AsyncPublisher`
   in a deployment): 200 once all are acknowledged; 503 with
   ``Retry-After`` when Kafka does not confirm within ``write_timeout_s``, and then none is visible,
   so Prisma's retry duplicates nothing.

``GET /healthz`` is liveness: it is answered by the event loop that serves the alerts, so an answer
means the loop turns (a blocked loop times the probe out). ``GET /readyz`` is readiness: 200 when
every check of the ``readiness`` probe the composition root passes in passes (the Kafka publisher
has started, the broker answers and holds the raw and dead-letter topics), else 503 naming the
failing checks. ``GET /metrics`` serves Prometheus metrics, ``GET /openapi.json`` the receiver's
OpenAPI document (``webhook_openapi.json`` beside this module).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.prisma.settings import WebhookSettings
from connectors.ports import OutgoingRecord, PublishFailedError, RecordPublisher, RecordsRejectedError
from processors.dead_letters import build_dead_letter, excerpt
from processors.errors import ConfigurationError, InvalidRecordError, SerializationError
from processors.models import AlertSource
from processors.normalise.compute_webhook import (
    compute_webhook_alert_id,
    compute_webhook_items,
    compute_webhook_problem,
)
from processors.pipeline import raw_alert_key
from processors.sanitise import REPLACED_CHARACTERS_HEADER, admit_raw_alert, clean_payload, clean_text
from processors.strict_json import JsonRejectedError, parse_json
__all__ = ["create_webhook_app", "Publisher", "ReadinessProbe"]

#: Readiness checks of the receiver: check name → None when it passes, else why it fails. Called on a
#: worker thread (checks may block on the broker for a few seconds).
ReadinessProbe = Callable[[], Mapping[str, "str | None"]]

log = logging.getLogger(__name__)

WEBHOOK_REQUESTS = Counter(
    "prismaflow_webhook_requests_total", "Webhook requests by endpoint and outcome", ["endpoint", "outcome"])
WEBHOOK_RECORDS = Counter(
    "prismaflow_webhook_records_total", "Alert records received by webhook, by outcome", ["endpoint", "outcome"])
WEBHOOK_REPLACED = Counter(
    "prismaflow_webhook_replaced_characters_total",
    "Invalid characters (lone surrogates, undecodable bytes) replaced by U+FFFD in accepted alerts", ["endpoint"])
WEBHOOK_SECONDS = Histogram(
    "prismaflow_webhook_request_seconds", "Webhook request latency, Kafka acknowledgement included", ["endpoint"])

_CSPM_STATUSES = frozenset({"open", "resolved", "dismissed", "snoozed"})




#: Writes a request's records all or none (the port; :class:`streams.async_publish.AsyncPublisher`
#: in a deployment). Raises RecordsRejectedError (``rejections``: index -> reason) before writing
#: anything when some records can never be written, PublishFailedError when nothing is visible.
Publisher = RecordPublisher




def _cspm_problem(item: object) -> str | None:
    if not isinstance(item, dict):
        return f"expected a JSON object, got {type(item).__name__}"
    alert_id = item.get("alertId")
    if not isinstance(alert_id, str) or not alert_id.strip():
        return "missing or empty alertId"
    status = item.get("alertStatus")
    if not isinstance(status, str) or status.lower() not in _CSPM_STATUSES:
        return f"alertStatus {status!r} is not one of {sorted(_CSPM_STATUSES)}"
    if not isinstance(item.get("policyId"), str) and not isinstance(item.get("policyName"), str):
        return "neither policyId nor policyName present"
    return None


def _compute_problem(item: object) -> str | None:
    """Why a Compute item must be dead-lettered (rules in processors.normalise.compute_webhook)."""
    return compute_webhook_problem(item)


def _compute_items(document: object) -> list[object]:
    """One item per finding: a vulnerability alert listing several images or hosts becomes several."""
    return compute_webhook_items(document)


_OPENAPI_DOCUMENT = Path(__file__).with_name("webhook_openapi.json")


@dataclass(frozen=True)
class _Origin:
    """Where a raw alert of the request came from, to dead-letter it if Kafka cannot take it."""

    index: int
    alert_id: str
    key: str
    original: bytes


class _Intake:
    """The records one request becomes: a raw alert or a dead letter per item, in request order."""

    def __init__(self, settings: WebhookSettings, endpoint: str, source: AlertSource, path: str,
                 received_at: datetime, new_ingest_id: Callable[[], str]) -> None:
        self.settings, self.endpoint, self.source, self.path = settings, endpoint, source, path
        self.received_at, self.new_ingest_id = received_at, new_ingest_id
        self.excerpt_bytes = min(settings.dlq_excerpt_bytes, settings.max_record_bytes // 2)
        self.records: list[OutgoingRecord] = []
        self.origins: list[_Origin | None] = []
        self.accepted = self.rejected = self.replaced = 0

    def add(self, index: int, item: object, check: Callable[[object], str | None]) -> None:
        """Admit ``item`` as a raw alert, or dead-letter it with the reason."""
        original = json.dumps(item, separators=(",", ":")).encode()  # ASCII: always encodable
        try:
            # Checks and ids derive from the cleaned item: deriving a Compute id hashes its text,
            # which a lone surrogate would break.
            cleaned, replaced = clean_payload(item)
        except InvalidRecordError as exc:
            self._reject(f"record {index}: {exc.reason}", original)
            return
        problem = check(cleaned)
        if problem is not None:
            self._reject(f"record {index}: {problem}", original)
            return
        assert isinstance(item, dict) and isinstance(cleaned, dict)
        # A CSPM id is checked as sent, so that a refusal names the character Prisma sent.
        alert_id = (str(item["alertId"]).strip(" ") if self.source is AlertSource.CSPM_WEBHOOK
                    else compute_webhook_alert_id(cleaned))
        try:
            admitted = admit_raw_alert(
                source=self.source, alert_id=alert_id, payload=cleaned, tenant=self.settings.tenant,
                received_at=self.received_at, ingest_id=self.new_ingest_id(), key=raw_alert_key)
        except InvalidRecordError as exc:
            self._reject(f"record {index}: {exc.reason}", original)
            return
        except Exception as exc:  # noqa: BLE001 - a normaliser bug must cost one record, not the request
            log.exception("webhook record could not be admitted endpoint=%s record=%d", self.endpoint, index)
            self._reject(f"record {index}: cannot be normalised ({type(exc).__name__})", original)
            return
        replaced += admitted.replaced_characters
        headers = {REPLACED_CHARACTERS_HEADER: str(replaced).encode()} if replaced else {}
        self.records.append(OutgoingRecord(self.settings.raw_topic, admitted.key, admitted.raw, headers))
        self.origins.append(_Origin(index, admitted.raw.source_alert_id, admitted.key, original))
        self.accepted += 1
        self.replaced += replaced

    def dead_letter_rejected(self, rejections: dict[int, str]) -> bool:
        """Turn the raw alerts Kafka cannot take into dead letters; False if a dead letter was refused."""
        for position, reason in sorted(rejections.items()):
            origin = self.origins[position] if 0 <= position < len(self.origins) else None
            if origin is None:
                return False
            self.records[position] = self._dead_letter(
                f"record {origin.index} (alert id {origin.alert_id!a:.120}): {reason}", origin.original,
                key=origin.key)
            self.origins[position] = None
            self.accepted -= 1
            self.rejected += 1
        return True

    def _reject(self, reason: str, original: bytes) -> None:
        self.records.append(self._dead_letter(reason, original))
        self.origins.append(None)
        self.rejected += 1

    def _dead_letter(self, reason: str, original: bytes, *, key: str | None = None) -> OutgoingRecord:
        value, note = excerpt(original, self.excerpt_bytes)
        letter = build_dead_letter(
            stage=f"webhook.{self.endpoint}", error=reason + note, original_topic=f"webhook:{self.path}",
            original_key=key.encode() if key is not None else None, original_value=value, failed_at=self.received_at)
        log.warning("dead-lettered stage=%s topic=%s partition=-1 offset=-1 error=%s reason=%s", letter.record.stage,
                    letter.record.original_topic, letter.record.error_class, letter.record.error_message[:200])
        return OutgoingRecord(self.settings.dlq_topic, letter.key, letter.record, letter.headers)


def create_webhook_app(settings: WebhookSettings, publisher: RecordPublisher,
                       *, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                       new_ingest_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                       readiness: ReadinessProbe | None = None) -> Starlette:
    """Build the receiver around a publisher that writes a request's records all or none.

    ``readiness`` answers ``/readyz``; without one the receiver is ready whenever it serves (tests that
    run it on an in-memory publisher).
    """
    if settings.auth_token is None and not settings.allow_unauthenticated:
        raise ConfigurationError(
            "PRISMAFLOW_WEBHOOK_AUTH_TOKEN is not set: set it (and configure the same header value in "
            "Prisma Cloud), or set PRISMAFLOW_WEBHOOK_ALLOW_UNAUTHENTICATED=true for local testing only")
    expected = settings.auth_token.get_secret_value().encode() if settings.auth_token else None
    limits = settings.json_limits()
    openapi = json.loads(_OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    unavailable = {"Retry-After": str(settings.retry_after_s)}

    def authorised(request: Request) -> bool:
        if expected is None:
            return True
        presented = request.headers.get(settings.auth_header, "").encode("latin-1", "replace")
        return hmac.compare_digest(presented, expected)

    async def read_body(request: Request) -> bytes | Response:
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and (len(declared) > 15 or int(declared) > settings.max_body_bytes):
            return _error(413, f"request body over {settings.max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > settings.max_body_bytes:
                return _error(413, f"request body over {settings.max_body_bytes} bytes")
        return bytes(body)

    async def receive(request: Request, endpoint: str, source: AlertSource) -> Response:
        started = time.perf_counter()
        try:
            response = await _receive(request, endpoint, source)
        finally:
            WEBHOOK_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
        WEBHOOK_REQUESTS.labels(endpoint, str(response.status_code)).inc()
        return response

    async def _receive(request: Request, endpoint: str, source: AlertSource) -> Response:
        if not authorised(request):
            return _error(401, f"missing or wrong {settings.auth_header} header")
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type:
            return _error(415, f"expected application/json, got {content_type}")
        body = await read_body(request)
        if isinstance(body, Response):
            return body
        try:
            parsed = parse_json(body, limits)
        except JsonRejectedError as exc:
            return _error(400, exc.reason)
        document = parsed.document
        if source is AlertSource.CSPM_WEBHOOK:
            if not isinstance(document, list):
                return _error(422, "the CSPM webhook body must be a JSON array of alert notifications")
            items: list[object] = document
            check = _cspm_problem
        else:
            if isinstance(document, (dict, list)):
                items = _compute_items(document)
            else:
                return _error(422, "the Compute webhook body must be a JSON object (or an array of them)")
            check = _compute_problem
        intake = _Intake(settings, endpoint, source, request.url.path, clock(), new_ingest_id)
        for index, item in enumerate(items):
            intake.add(index, item, check)
        try:
            await _write(publisher, intake)
        except PublishFailedError as exc:
            log.error("webhook write failed endpoint=%s count=%d error=%s", endpoint, len(intake.records), exc)
            return _error(503, "could not write to Kafka; retry later", headers=unavailable)
        except SerializationError as exc:
            log.error("webhook records cannot be stored endpoint=%s error=%s", endpoint, exc)
            return _error(422, f"records of this request cannot be stored: {exc}")
        WEBHOOK_RECORDS.labels(endpoint, "accepted").inc(intake.accepted)
        WEBHOOK_RECORDS.labels(endpoint, "dead_lettered").inc(intake.rejected)
        WEBHOOK_REPLACED.labels(endpoint).inc(intake.replaced + parsed.replaced_bytes)
        log.info("webhook endpoint=%s accepted=%d dead_lettered=%d replaced_characters=%d", endpoint,
                 intake.accepted, intake.rejected, intake.replaced + parsed.replaced_bytes)
        return JSONResponse({"accepted": intake.accepted, "dead_lettered": intake.rejected}, status_code=200)

    async def cspm(request: Request) -> Response:
        return await receive(request, "cspm", AlertSource.CSPM_WEBHOOK)

    async def compute(request: Request) -> Response:
        return await receive(request, "compute", AlertSource.COMPUTE_WEBHOOK)

    async def healthz(request: Request) -> Response:
        # Served by the same event loop as the alerts: answering at all is the liveness signal.
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        failing = {} if readiness is None else {
            name: reason for name, reason in (await run_in_threadpool(readiness)).items() if reason is not None}
        if failing:
            return JSONResponse({"status": "not ready",
                                 "failing": {name: failing[name] for name in sorted(failing)}}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def openapi_document(request: Request) -> Response:
        return JSONResponse(openapi)

    return Starlette(routes=[
        Route("/webhooks/prisma/cspm", cspm, methods=["POST"]),
        Route("/webhooks/prisma/compute", compute, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_document, methods=["GET"]),
    ])


async def _write(publisher: RecordPublisher, intake: _Intake) -> None:
    """Write the request's records; dead-letter those Kafka can never take, and write again.

    Raises PublishFailedError (nothing written) or SerializationError (a dead letter itself refused).
    """
    try:
        await publisher.send_many(intake.records)
        return
    except RecordsRejectedError as exc:
        if not intake.dead_letter_rejected(exc.rejections):
            raise
    await publisher.send_many(intake.records)


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": clean_text(message[:2000])[0]}, status_code=status, headers=headers)
