"""`make demo` (the README's first command) runs the pipeline end to end and exits 0, with a Schema
Registry: every topic it writes is readable by the standard Confluent tooling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from streams.devtools.registry import LocalSchemaRegistry
from streams.topics import ANALYSES, AUDIT, CATALOGUE, DLQ, RAW_ALERTS, SCORE_CHANGELOG, SCORED_ALERTS, SOURCE_CHECKPOINTS, TICKETS
from tests.kafka_helpers import read_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_the_demo_runs_the_pipeline_and_narrates_an_alerts_journey(
    kafka_bootstrap: str, schema_registry: LocalSchemaRegistry, repo_root: Path
) -> None:
    # The session's registry, not one the demo starts: it stops its own at the end, with the schemas.
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SCHEMA_REGISTRY_URL": schema_registry.url}
    result = subprocess.run([sys.executable, "-m", "streams.cli", "demo"], cwd=repo_root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for expected in ("poll", "webhook", "normalise", "score", "Top risks", "Correlated incident",
                     "One alert's journey", "prisma.alerts.raw[", "prisma.alerts.scored", "prisma.analyses",
                     "prisma.tickets", "Downstream:", "signing audit records with key", "signed records", "verified"):
        assert expected in out, f"demo output lacks {expected!r}"
    summary = json.loads(next(line for line in out.splitlines() if line.startswith('{"summary"')))["summary"]
    assert summary["raw"] > 0 and summary["scored"] > 0 and summary["incidents"] > 0
    assert summary["dead_letters"] >= 1  # the malformed webhook record was dead-lettered, not dropped
    assert summary["analyses"] > 0 and summary["audit_records"] > 0
    assert summary["jira_issues"] == summary["servicenow_incidents"] > 0
    assert summary["jira_issues_with_analysis"] > 0, "tickets are created with their analysis in the body"
    # One fix from alert to approval to execution: approved twice, run against moto, the bucket read back.
    for expected in ("One fix, from alert to approval to execution", "Pending Approval", "approved through the approval API",
                     "final APPROVED outcome", "public access block = ", "is now Done"):
        assert expected in out, f"demo output lacks {expected!r}"
    assert summary["fixed"] is True

    document = json.loads(next(line for line in out.splitlines() if line.startswith('{"summary"')))
    assert document["framing"] == "confluent" and "subjects, compatibility BACKWARD" in out
    _every_topic_reads_with_confluents_own_avro_deserializer(kafka_bootstrap, schema_registry, document["prefix"])


def _every_topic_reads_with_confluents_own_avro_deserializer(bootstrap: str, registry: LocalSchemaRegistry,
                                                              prefix: str) -> None:
    """What ``kafka-avro-console-consumer`` does: no reader schema, the writer's schema fetched by the
    id in each record's Confluent header."""
    written: dict[str, list[dict[str, object]]] = {}
    raw_records: set[str] = set()
    with SchemaRegistryClient({"url": registry.url}) as client:
        deserializer = AvroDeserializer(client)
        for spec in CATALOGUE:
            topic = prefix + spec.name
            # Tombstones (no value) delete a key of a compacted topic: nothing to decode.
            messages = [m for m in read_topic(bootstrap, topic, settle_s=0.5, timeout_s=30) if m.value() is not None]
            values = [deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in messages]
            assert all(isinstance(value, dict) for value in values), topic
            if values:
                written[spec.name] = values
            if spec is RAW_ALERTS:
                ids = {int.from_bytes(m.value()[1:5], "big") for m in messages}
                raw_records = {json.loads(client.get_schema(i).schema_str or "{}")["name"] for i in ids}
    # What the demo runs writes: sources, core, analysis stage, ticket sinks, audit, dead letters.
    assert set(written) >= {spec.name for spec in (RAW_ALERTS, SCORED_ALERTS, DLQ, SOURCE_CHECKPOINTS,
                                                   SCORE_CHANGELOG, ANALYSES, TICKETS, AUDIT)}
    assert all({"alert", "score", "factors"} <= value.keys() for value in written[SCORED_ALERTS.name])
    # The raw topic carries the core's asset-graph messages too, under their own subject.
    assert raw_records == {"io.prismaflow.RawAlert", "io.prismaflow.AssetLink"}
