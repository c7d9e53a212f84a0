"""The receiver's OpenAPI document: kept in the repository, served, true to the app, and fuzzed by schemathesis.

schemathesis generates requests from the document (valid and invalid bodies, missing and wrong
tokens) and checks every answer: never a 5xx, a status code and body the document declares, the
``Retry-After`` header where it says so. The publisher behind the app encodes every record with
the project's serde (``webhook_support``), so an accepted record that would not encode fails too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from starlette.routing import Route

from connectors.prisma.settings import WebhookSettings
from connectors.prisma.webhook import create_webhook_app
from streams.serde import AvroSerde
from tests.connectors.prisma.test_webhook import TOKEN
from tests.connectors.prisma.webhook_support import SerdePublisher
from tests.fuzz_settings import fuzz_examples

DOCUMENT = Path(__file__).resolve().parents[3] / "connectors" / "prisma" / "webhook_openapi.json"
EXAMPLES = fuzz_examples(0.1)

PUBLISHER = SerdePublisher(AvroSerde())
APP = create_webhook_app(WebhookSettings(auth_token=SecretStr(TOKEN), max_body_bytes=256 * 1024), PUBLISHER)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


def test_the_document_lists_exactly_the_routes_of_the_app() -> None:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    declared = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = {(route.path, method) for route in APP.routes if isinstance(route, Route)
              for method in (route.methods or ()) if method != "HEAD"}
    assert declared == served


async def test_the_receiver_serves_the_document_kept_in_the_repository() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://r") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(DOCUMENT.read_text(encoding="utf-8"))


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_receiver_keeps_to_its_document_for_generated_requests(case: Any) -> None:
    PUBLISHER.written.clear()
    response = case.call_and_validate(headers={"Authorization": TOKEN})
    assert response.status_code < 500
    if response.status_code != 200:
        assert PUBLISHER.written == []  # a refused request writes nothing
    elif case.method == "POST":
        outcome = response.json()
        assert outcome["accepted"] + outcome["dead_lettered"] == len(PUBLISHER.written)
