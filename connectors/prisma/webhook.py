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

The receiver answers 2xx only after Kafka acknowledged every record of the request, so Prisma Cloud
retries anything not written. A malformed body gets a clear 4xx; a well-formed body with bad records
sends those records to ``prisma.dlq`` with the reason while the good ones go on. Oversized requests
get 413. ``GET /healthz`` and ``GET /metrics`` serve health and Prometheus metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from processors.models import AlertSource, RawAlert
from processors.pipeline import raw_alert_key
from processors.normalise.compute_webhook import (
    compute_webhook_alert_id,
    compute_webhook_items,
    compute_webhook_problem,
)
from streams.dlq import dead_letter
from streams.publish import OutgoingRecord, PublishError
from streams.settings import _Settings
from streams.topics import DLQ, RAW_ALERTS

__all__ = ["WebhookSettings", "create_webhook_app", "Publisher"]

log = logging.getLogger(__name__)

WEBHOOK_REQUESTS = Counter(
    "prismaflow_webhook_requests_total", "Webhook requests by endpoint and outcome", ["endpoint", "outcome"])
WEBHOOK_RECORDS = Counter(
    "prismaflow_webhook_records_total", "Alert records received by webhook, by outcome", ["endpoint", "outcome"])
WEBHOOK_SECONDS = Histogram(
    "prismaflow_webhook_request_seconds", "Webhook request latency, Kafka acknowledgement included", ["endpoint"])

_CSPM_STATUSES = frozenset({"open", "resolved", "dismissed", "snoozed"})


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


class Publisher(Protocol):
    async def send_many(self, records: list[OutgoingRecord]) -> list[Any]: ...


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


def create_webhook_app(settings: WebhookSettings, publisher: Publisher,
                       *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Starlette:
    """Build the receiver around a publisher that awaits Kafka's acknowledgements."""
    if settings.auth_token is None and not settings.allow_unauthenticated:
        from processors.errors import ConfigurationError

        raise ConfigurationError(
            "PRISMAFLOW_WEBHOOK_AUTH_TOKEN is not set: set it (and configure the same header value in "
            "Prisma Cloud), or set PRISMAFLOW_WEBHOOK_ALLOW_UNAUTHENTICATED=true for local testing only")
    expected = settings.auth_token.get_secret_value().encode() if settings.auth_token else None

    def authorised(request: Request) -> bool:
        if expected is None:
            return True
        presented = request.headers.get(settings.auth_header, "").encode()
        return hmac.compare_digest(presented, expected)

    async def read_body(request: Request) -> bytes | Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_body_bytes:
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
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(400, f"body is not valid JSON: {exc}")
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
        received_at = clock()
        records: list[OutgoingRecord] = []
        accepted = rejected = 0
        for index, item in enumerate(items):
            problem = check(item)
            original = json.dumps(item, separators=(",", ":")).encode()
            if problem is not None:
                rejected += 1
                records.append(dead_letter(
                    stage=f"webhook.{endpoint}", error=f"record {index}: {problem}",
                    original_topic=f"webhook:{request.url.path}", original_value=original,
                    dlq_topic=settings.dlq_topic, now=received_at))
                continue
            assert isinstance(item, dict)
            alert_id = (str(item["alertId"]).strip() if source is AlertSource.CSPM_WEBHOOK
                        else compute_webhook_alert_id(item))
            payload = original.decode()
            raw = RawAlert(
                ingest_id=str(uuid.uuid4()), source=source, source_alert_id=alert_id,
                tenant=settings.tenant, received_at=received_at, payload_json=payload,
                content_hash=hashlib.sha256(original).hexdigest(),
            )
            records.append(OutgoingRecord(settings.raw_topic, raw_alert_key(raw), raw))
            accepted += 1
        try:
            await publisher.send_many(records)
        except PublishError as exc:
            log.error("webhook write failed endpoint=%s count=%d error=%s", endpoint, len(records), exc)
            return _error(503, "could not write to Kafka; retry later")
        WEBHOOK_RECORDS.labels(endpoint, "accepted").inc(accepted)
        WEBHOOK_RECORDS.labels(endpoint, "dead_lettered").inc(rejected)
        log.info("webhook endpoint=%s accepted=%d dead_lettered=%d", endpoint, accepted, rejected)
        return JSONResponse({"accepted": accepted, "dead_lettered": rejected}, status_code=200)

    async def cspm(request: Request) -> Response:
        return await receive(request, "cspm", AlertSource.CSPM_WEBHOOK)

    async def compute(request: Request) -> Response:
        return await receive(request, "compute", AlertSource.COMPUTE_WEBHOOK)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[
        Route("/webhooks/prisma/cspm", cspm, methods=["POST"]),
        Route("/webhooks/prisma/compute", compute, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ])


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
