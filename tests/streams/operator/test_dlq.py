"""``prismaflow dlq list|show|redrive`` on a real broker: dead letters are readable, shown without
secrets, and redriven to their original topic once, audited, and only when they now pass."""

from __future__ import annotations

import json

import pytest

from processors.audit import verify_chain
from processors.models import RawAlert
from tests.audit_keys import TEST_KEYRING, TEST_SIGNER
from streams.audit import read_chains
from streams.cli import main
from streams.dlq import dead_letter
from streams.kafka_clients import KafkaClients
from streams.operator.redrive import REDRIVE_ACTION, REDRIVE_CHAIN, REDRIVEN_HEADER
from streams.publish import encode_record
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import AUDIT, DLQ, RAW_ALERTS
from tests.factories import _CSPM_PAYLOAD, make_raw_alert
from tests.kafka_helpers import read_topic

pytestmark = pytest.mark.broker

SECRET = "AKIAIOSFODNN7EXAMPLE"


def _payload_with(description: str, alert_id: str) -> str:
    payload = json.loads(_CSPM_PAYLOAD)
    payload["policy"]["description"], payload["id"] = description, alert_id
    return json.dumps(payload)


@pytest.fixture
def dead_letters(catalogue: str, kafka: KafkaSettings, serde: AvroSerde,
                 monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Three dead letters of the core stage: one that passes today (the bug that refused it is fixed),
    one still malformed, one refused at the webhook edge. Returns their original values by name."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("PRISMAFLOW_WORKER_TOPIC_PREFIX", catalogue)
    monkeypatch.setenv("PRISMAFLOW_WORKER_GROUP_PREFIX", catalogue + "prismaflow")
    monkeypatch.setenv("PRISMAFLOW_AUDIT_SIGNING_KEY", TEST_SIGNER.secret_text())  # redrives are audited: signed
    raw = catalogue + RAW_ALERTS.name
    fixed = serde.encode(make_raw_alert(source_alert_id="P-fixed", payload_json=_payload_with(
        f"access key {SECRET} in user data", "P-fixed")), topic=raw)
    broken = serde.encode(make_raw_alert(source_alert_id="P-broken", payload_json='{"id": "P-broken"}'), topic=raw)
    letters = [
        dead_letter(stage="core", error="a normalisation bug since fixed", original_topic=raw, original_partition=2,
                    original_offset=17, original_key=b"asset-1", original_value=fixed,
                    original_headers={"traceparent": b"00-abc-def-01"}, dlq_topic=catalogue + DLQ.name),
        dead_letter(stage="core", error="alertTime missing", original_topic=raw, original_partition=0,
                    original_offset=3, original_key=b"asset-2", original_value=broken, dlq_topic=catalogue + DLQ.name),
        dead_letter(stage="webhook", error="id has control characters", original_topic="webhook:/webhooks/prisma/cspm",
                    original_value=b'{"id": "P-\\u0007"}', dlq_topic=catalogue + DLQ.name),
    ]
    producer = KafkaClients(kafka).producer()
    for letter in letters:
        encoded = encode_record(serde, letter)
        producer.produce(encoded.topic, key=encoded.key, value=encoded.value, headers=encoded.headers, partition=0)
    assert producer.flush(30) == 0
    return {"fixed": fixed, "broken": broken}


def _list(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["dlq", "list", "--json"]) == 0
    listed: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return listed


def test_dlq_list_and_show_read_the_dead_letters_without_printing_secrets(
        dead_letters: dict[str, bytes], catalogue: str, capsys: pytest.CaptureFixture[str]) -> None:
    listed = _list(capsys)
    assert [(d["id"], d["stage"], d["source_topic"], d["source_partition"], d["source_offset"], d["error_message"])
            for d in listed] == [
        ("0-0", "core", catalogue + RAW_ALERTS.name, 2, 17, "a normalisation bug since fixed"),
        ("0-1", "core", catalogue + RAW_ALERTS.name, 0, 3, "alertTime missing"),
        ("0-2", "webhook", "webhook:/webhooks/prisma/cspm", 0, 0, "id has control characters")]
    assert main(["dlq", "list", "--reason", "MISSING"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 and table[1].split()[0] == "0-1"

    assert main(["dlq", "show", "0-0"]) == 0
    shown = capsys.readouterr().out
    assert SECRET not in shown
    document = json.loads(shown)
    assert document["payload"]["source_alert_id"] == "P-fixed"  # decoded by the raw topic's schema
    assert "access key [REDACTED] in user data" in document["payload"]["payload_json"]
    assert document["original_headers"] == {"traceparent": "00-abc-def-01"}
    assert main(["dlq", "show", "9-99"]) == 1


def test_redrive_publishes_what_now_passes_once_refuses_the_rest_and_audits_it(
        dead_letters: dict[str, bytes], catalogue: str, kafka: KafkaSettings, serde: AvroSerde,
        capsys: pytest.CaptureFixture[str]) -> None:
    raw = catalogue + RAW_ALERTS.name
    assert main(["dlq", "redrive", "--all"]) == 1  # one refused
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["redriven", "0-0"]
    assert lines[1].split()[:2] == ["refused", "0-1"] and "still fails: InvalidRecordError" in lines[1]
    assert lines[2].split()[:2] == ["refused", "0-2"] and "cannot be redriven" in lines[2]
    assert lines[3] == "1 redriven, 0 already redriven, 2 refused"

    assert main(["dlq", "redrive", "0-0"]) == 0  # the same dead letter again: a no-op
    assert capsys.readouterr().out.splitlines() == ["skipped   0-0        already redriven",
                                                    "0 redriven, 1 already redriven, 0 refused"]

    republished = read_topic(kafka, raw, expect=1)
    assert len(republished) == 1  # once, though redriven twice
    message = republished[0]
    assert (message.key(), message.value()) == (b"asset-1", dead_letters["fixed"])
    assert serde.decode(message.value(), RawAlert, topic=raw).source_alert_id == "P-fixed"
    assert dict(message.headers() or [])[REDRIVEN_HEADER] == f"{catalogue}{DLQ.name}/0-0".encode()
    assert dict(message.headers() or [])["traceparent"] == b"00-abc-def-01"

    chains = read_chains(kafka, serde, catalogue + AUDIT.name)
    redrives = [r for (_, chain), records in chains.items() if chain == REDRIVE_CHAIN for r in records]
    assert [(r.action, json.loads(r.details_json)["dead_letter"]) for r in redrives] == [(REDRIVE_ACTION, "0-0")]
    assert verify_chain(redrives, keyring=TEST_KEYRING).ok
    assert len(_list(capsys)) == 3  # nothing was taken off the DLQ


def test_redrive_without_a_selection_does_nothing(dead_letters: dict[str, bytes],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "redrive"]) == 2
    assert "name ids, --reason, --source or --all" in capsys.readouterr().err
