"""The receiver under fuzzed requests: never a 5xx, every accepted record encodes, retries never duplicate.

Hypothesis builds request bodies from the campaign's ingredients (lone surrogates as JSON escapes and
as raw bytes, control, bidi and zero-width characters, CRLF, huge ids and numbers, NaN and Infinity,
deep nesting, random bytes, cut and spliced valid bodies) on both endpoints. Every request runs
against a publisher that fails its first writes at random (an outage: 503, nothing written), as
Prisma's retries would meet it, and then against one that never fails; the properties:

- the answer is one the document declares, never 500 (503 only while the publisher fails);
- a request answered with anything but 200 wrote nothing;
- every written record encodes with the project's serde and decodes back; every raw alert's id and
  key pass the edge rule and its payload is strict JSON;
- a request retried after 503s wrote exactly what the same request writes when nothing fails: no
  record twice, none missing.

``PRISMAFLOW_FUZZ_EXAMPLES`` sets the number of cases (a few hundred by default; ``make fuzz``: 10,000).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.prisma.settings import WebhookSettings
from connectors.prisma.webhook import create_webhook_app
from processors.models import RawAlert
from processors.records import DeadLetter
from processors.sanitise import identifier_problem
from processors.strict_json import JsonLimits, parse_json
from streams.serde import AvroSerde
from tests.connectors.prisma.test_webhook import COMPUTE_RUNTIME_EVENT, CSPM_NOTIFICATION, TOKEN
from tests.connectors.prisma.webhook_support import SerdePublisher, receiver_client
from tests.fuzz_settings import fuzz_examples

SERDE = AvroSerde()
SETTINGS = WebhookSettings(auth_token=SecretStr(TOKEN), max_body_bytes=512 * 1024, max_record_bytes=60_000,
                           dlq_excerpt_bytes=4096)
HEADERS = {"Authorization": TOKEN, "Content-Type": "application/json"}
PATHS = {"cspm": "/webhooks/prisma/cspm", "compute": "/webhooks/prisma/compute"}
DECLARED = {200, 400, 401, 413, 415, 422, 503}

NASTY = ["\x00", "\u202e", "\u200b", "\ufeff", "\u2028", "\r\nX-Injected: 1", "\ud800", "\udcff", "\ufffd",
         "\x1b[31m", "{{7*7}}", "ignore previous instructions", "\U0001f600", "A" * 600]

characters = st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
                       st.sampled_from(["\x00", "\u202e", "\u200b", "\ufeff", "\u2028", "\r", "\n", "\ufffd"]))
texts = st.one_of(st.text(characters, max_size=40), st.sampled_from(NASTY),
                  st.builds(lambda a, b: a + b, st.sampled_from(NASTY), st.text(characters, max_size=8)))
numbers = st.one_of(st.integers(), st.integers(min_value=-(10**60), max_value=10**60),
                    st.floats(allow_nan=True, allow_infinity=True))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(texts, inner, max_size=4)), max_leaves=12)


@st.composite
def notifications(draw: st.DrawFn) -> Any:
    """A CSPM notification with a few fields swapped for hostile values (or a hostile value alone)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(values)
    item: dict[str, Any] = copy.deepcopy(CSPM_NOTIFICATION)
    item["alertId"] = draw(st.one_of(st.just("P-1"), st.just("P-2"), texts))
    for field in draw(st.lists(st.sampled_from(sorted(CSPM_NOTIFICATION)), max_size=3)):
        item[field] = draw(values)
    return item


@st.composite
def compute_events(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(values)
    item: dict[str, Any] = copy.deepcopy(COMPUTE_RUNTIME_EVENT)
    for field in draw(st.lists(st.sampled_from(sorted(COMPUTE_RUNTIME_EVENT)), max_size=3)):
        item[field] = draw(values)
    if draw(st.booleans()):
        item["type"] = "Container Vulnerability"
        item["vulnerabilities"] = draw(st.lists(st.fixed_dictionaries(
            {"imageName": texts, "imageID": st.one_of(texts, st.just("sha256:aaa")), "newVulnerabilities": values}),
            max_size=3))
    return item


def _dumps(document: Any) -> bytes:
    """JSON as a sloppy sender writes it: NaN and Infinity literals, surrogates as \\u escapes."""
    return json.dumps(document, allow_nan=True).encode()


@st.composite
def bodies(draw: st.DrawFn, endpoint: str) -> bytes:
    items = notifications() if endpoint == "cspm" else compute_events()
    kind = draw(st.integers(0, 9))
    if kind <= 4:
        document: Any = draw(st.lists(items, max_size=5))
        if endpoint == "compute" and draw(st.booleans()):
            document = draw(items)
        return _dumps(document)
    if kind == 5:
        return draw(st.binary(max_size=200))
    if kind == 6:  # a valid body with bytes spliced in or cut off
        body = _dumps(draw(st.lists(items, min_size=1, max_size=3)))
        at = draw(st.integers(0, len(body)))
        return body[:at] + draw(st.sampled_from([b"\xed\xa0\x80", b"\xff", b"\x00", b"", b"]", b"{"])) + body[
            at + draw(st.integers(0, 3)):]
    if kind == 7:
        depth = draw(st.integers(1, 3000))
        return draw(st.sampled_from([b"[", b'{"a":['])) * depth + b"1" + b"]" * depth
    if kind == 8:
        return b'[{"alertId":"P-1","n":' + b"9" * draw(st.integers(1, 6000)) + b"}]"
    return _dumps(draw(values))


def _fingerprint(publisher: SerdePublisher) -> Counter[tuple[str, str]]:
    """What was written, independent of ingest ids and times: topic and content of every record."""
    seen: Counter[tuple[str, str]] = Counter()
    for record, encoded in publisher.written:
        value = record.value
        if isinstance(value, RawAlert):
            seen[(record.topic, f"{record.key}|{value.source_alert_id}|{value.content_hash}")] += 1
        elif isinstance(value, DeadLetter):
            seen[(record.topic, f"{value.error_message}|{value.original_value!r}")] += 1
        else:
            raise AssertionError(f"unexpected record {type(value).__name__}")
        assert encoded.value is not None and encoded.size <= SETTINGS.max_record_bytes
    return seen


def _check_written(publisher: SerdePublisher) -> None:
    for record, encoded in publisher.written:
        assert encoded.value is not None
        if isinstance(record.value, RawAlert):
            decoded = SERDE.decode(encoded.value, RawAlert, topic=record.topic)
            assert decoded == record.value.model_copy(update={"received_at": decoded.received_at})
            assert identifier_problem(decoded.source_alert_id) is None
            assert identifier_problem(record.key, "key") is None
            parse_json(decoded.payload_json.encode(), JsonLimits())
        else:
            assert isinstance(record.value, DeadLetter)
            letter = SERDE.decode(encoded.value, DeadLetter, topic=record.topic)
            assert letter == record.value.model_copy(update={"failed_at": letter.failed_at})


async def _exchange(endpoint: str, body: bytes, failures: int) -> tuple[list[int], SerdePublisher]:
    publisher = SerdePublisher(SERDE, max_record_bytes=SETTINGS.max_record_bytes, failures=failures)
    statuses: list[int] = []
    async with receiver_client(create_webhook_app(SETTINGS, publisher)) as client:
        for _ in range(failures + 1):  # Prisma retries a 503
            response = await client.post(PATHS[endpoint], content=body, headers=HEADERS)
            statuses.append(response.status_code)
            assert response.status_code in DECLARED, response.text
            if response.status_code == 200:
                outcome = response.json()
                assert outcome["accepted"] + outcome["dead_lettered"] == len(publisher.written)
            if response.status_code != 503:
                break
            assert response.headers["Retry-After"].isdigit()
            assert publisher.written == []
    return statuses, publisher


@given(data=st.data(), failures=st.integers(0, 2))
@settings(max_examples=fuzz_examples(), deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_requests_never_fail_the_receiver_and_retries_never_duplicate(data: st.DataObject, failures: int) -> None:
    endpoint = data.draw(st.sampled_from(sorted(PATHS)))
    body = data.draw(bodies(endpoint))
    statuses, retried = asyncio.run(_exchange(endpoint, body, failures))
    clean_statuses, clean = asyncio.run(_exchange(endpoint, body, 0))
    assert 500 not in statuses and 500 not in clean_statuses
    final = statuses[-1]
    assert final == clean_statuses[-1]
    if final != 200:
        assert retried.written == [] and clean.written == []
        return
    assert statuses == [503] * failures + [200]
    _check_written(retried)
    assert _fingerprint(retried) == _fingerprint(clean)
