"""AvroSerde: records survive a round trip in both framings; bad input fails loudly and clearly."""

from __future__ import annotations

import io
import json
import shutil
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from processors.errors import ExternalServiceError, SchemaError, SerializationError
from processors.models import Alert, Cloud, ResourceRef
from processors.records import DeadLetter, SiemEvent
from schemas import (
    SCHEMA_NAMES,
    expand,
    fingerprint,
    load_schemas,
    parsing_canonical_form,
    rabin_fingerprint64,
    schema_dir,
)
from streams.avro_datum import model_from_avro, model_to_avro
from streams.serde import AvroSerde, SerdeSettings
from streams.settings import SchemaRegistrySettings
from tests.factories import FACTORIES, make_alert, make_dead_letter, make_resource_ref, make_siem_event

TOPIC = "prisma.test"
# Producers register their schemas themselves only when told to (the default is off outside the demo).
_AUTO_REGISTER = SchemaRegistrySettings(auto_register=True)

# confluent-kafka's in-memory registry, reached through its public factory ("mock://" URLs).
MockSchemaRegistryClient = type(SchemaRegistryClient.new_client({"url": "mock://probe"}))


@pytest.fixture(scope="module")
def serde() -> AvroSerde:
    return AvroSerde()


@pytest.fixture
def registry() -> SchemaRegistryClient:
    return MockSchemaRegistryClient({"url": "mock://serde-tests"})


@pytest.fixture
def registry_serde(registry: SchemaRegistryClient) -> AvroSerde:
    return AvroSerde(SerdeSettings(registry=_AUTO_REGISTER), registry=registry)


# --- single-object encoding ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_record_round_trips_in_single_object_encoding(serde: AvroSerde, name: str) -> None:
    record = FACTORIES[name]()

    data = serde.encode(record, topic=TOPIC)

    assert serde.mode == "single-object"
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == serde.schema_fingerprint(name)
    assert serde.decode(data, type(record), topic=TOPIC) == record


def test_account_groups_and_exposure_details_round_trip(serde: AvroSerde) -> None:
    alert = make_alert(resource=make_resource_ref(account_groups=["Production", "PCI"]))
    alert = alert.model_copy(update={"enrichment": alert.enrichment.model_copy(update={
        "exposure_reason": "security group allows ingress from 0.0.0.0/0 on port 22", "admin_exposed": True})})
    assert serde.decode(serde.encode(alert, topic="prisma.alerts"), Alert, topic="prisma.alerts") == alert


def test_single_object_body_is_plain_avro_any_reader_can_decode(serde: AvroSerde) -> None:
    """A consumer in another language needs only the .avsc and the spec: header, then Avro binary."""
    record = make_siem_event()
    data = serde.encode(record, topic=TOPIC)
    standalone = fastavro.parse_schema(json.loads(json.dumps(expand(load_schemas()["SiemEvent"]))), named_schemas={})

    datum = fastavro.schemaless_reader(io.BytesIO(data[10:]), standalone, None)

    assert datum == model_to_avro(record)


def test_serializer_and_deserializer_are_callables_bound_to_a_model_and_topic(serde: AvroSerde) -> None:
    serialize = serde.serializer(Alert, TOPIC)
    deserialize = serde.deserializer(Alert, TOPIC)
    alert = make_alert()

    assert deserialize(serialize(alert)) == alert
    with pytest.raises(SerializationError, match="serializer for Alert on topic prisma.test got a SiemEvent"):
        serialize(make_siem_event())  # type: ignore[arg-type]


def test_decode_dict_gives_avro_symbols_and_utc_datetimes(serde: AvroSerde) -> None:
    alert = make_alert(resource=make_resource_ref(cloud=Cloud.ALIBABA))

    datum = serde.decode_dict(serde.encode(alert, topic=TOPIC), "Alert", topic=TOPIC)

    assert datum["resource"]["cloud"] == "ALIBABA"  # the member name, not the value "alibaba_cloud"
    assert datum["first_seen"] == alert.first_seen
    assert datum["first_seen"].tzinfo == UTC


# --- datetimes -----------------------------------------------------------------------------------


def test_aware_datetimes_in_any_zone_come_back_as_the_same_instant_in_utc(serde: AvroSerde) -> None:
    cest = timezone(timedelta(hours=2))
    event = make_siem_event(event_time=datetime(2025, 6, 1, 14, 0, 0, 250000, tzinfo=cest))

    decoded = serde.decode(serde.encode(event, topic=TOPIC), SiemEvent, topic=TOPIC)

    assert decoded.event_time == event.event_time
    assert decoded.event_time.tzinfo == UTC
    assert decoded.event_time.hour == 12


def test_datetimes_keep_milliseconds_and_lose_microseconds(serde: AvroSerde) -> None:
    event = make_siem_event(event_time=datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC))

    decoded = serde.decode(serde.encode(event, topic=TOPIC), SiemEvent, topic=TOPIC)

    assert decoded.event_time == datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)


def test_a_naive_datetime_is_refused_because_its_instant_is_unknown(serde: AvroSerde) -> None:
    event = make_siem_event(event_time=datetime(2025, 6, 1, 12, 0, 0))

    with pytest.raises(SerializationError, match=r"SiemEvent.event_time: naive datetime 2025-06-01T12:00:00"):
        serde.encode(event, topic=TOPIC)


# --- evolution -----------------------------------------------------------------------------------


def test_data_written_with_an_older_released_schema_decodes_with_current_defaults(tmp_path: Path) -> None:
    """A baseline DeadLetter without ``attempts`` and ``headers`` (both defaulted today)."""
    for path in schema_dir().glob("*.avsc"):
        shutil.copy(path, tmp_path / path.name)
    old = json.loads((tmp_path / "DeadLetter.avsc").read_text())
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("attempts", "headers")]
    (tmp_path / "DeadLetter.avsc").write_text(json.dumps(old))
    serde = AvroSerde(SerdeSettings(baseline_schema_dir=tmp_path))
    old_schema = load_schemas(tmp_path)["DeadLetter"]
    datum = {k: v for k, v in model_to_avro(make_dead_letter()).items() if k not in ("attempts", "headers")}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old_schema, datum)
    data = b"\xc3\x01" + fingerprint(old_schema) + body.getvalue()

    decoded = serde.decode(data, DeadLetter, topic=TOPIC)

    assert decoded == make_dead_letter(attempts=1, headers={})


# --- Confluent framing ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_record_round_trips_in_confluent_framing(
    registry_serde: AvroSerde, registry: SchemaRegistryClient, name: str
) -> None:
    record = FACTORIES[name]()

    data = registry_serde.encode(record, topic=TOPIC)

    registered = registry.get_latest_version(f"{TOPIC}-value")
    assert registry_serde.mode == "confluent"
    assert data[0] == 0
    assert struct.unpack(">I", data[1:5])[0] == registered.schema_id
    assert json.loads(registered.schema.schema_str or "")["name"] == f"io.prismaflow.{name}"
    assert registry_serde.decode(data, type(record), topic=TOPIC) == record


def test_a_registry_url_switches_to_confluent_framing() -> None:
    serde = AvroSerde(SerdeSettings(registry=SchemaRegistrySettings(url="mock://from-settings", auto_register=True)))
    alert = make_alert()

    data = serde.encode(alert, topic=TOPIC)

    assert serde.mode == "confluent"
    assert data[0] == 0
    assert serde.decode(data, Alert, topic=TOPIC) == alert


class _ClosableRegistry(MockSchemaRegistryClient):  # type: ignore[misc,valid-type]
    closed = 0

    def close(self) -> None:
        type(self).closed += 1


def test_the_serde_closes_only_a_registry_client_it_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SchemaRegistryClient, "new_client", staticmethod(lambda conf: _ClosableRegistry(conf)))
    with AvroSerde(SerdeSettings(registry=SchemaRegistrySettings(url="mock://owned"))):
        pass
    assert _ClosableRegistry.closed == 1

    injected = _ClosableRegistry({"url": "mock://injected"})
    with AvroSerde(registry=injected):
        pass
    assert _ClosableRegistry.closed == 1


def test_registry_mode_still_decodes_single_object_data(serde: AvroSerde, registry_serde: AvroSerde) -> None:
    alert = make_alert()

    assert registry_serde.decode(serde.encode(alert, topic=TOPIC), Alert, topic=TOPIC) == alert


def test_confluent_framed_data_without_a_registry_is_refused(serde: AvroSerde, registry_serde: AvroSerde) -> None:
    data = registry_serde.encode(make_alert(), topic=TOPIC)

    with pytest.raises(SerializationError, match="needs a schema registry, none is configured"):
        serde.decode(data, Alert, topic=TOPIC)


class _FailingRegistry(MockSchemaRegistryClient):  # type: ignore[misc,valid-type]
    def __init__(self, error: Exception) -> None:
        super().__init__({"url": "mock://failing"})
        self.error = error

    def register_schema_full_response(
        self, subject_name: str, schema: Schema, normalize_schemas: bool = False
    ) -> RegisteredSchema:
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (SchemaRegistryError(409, 409, "Schema being registered is incompatible"), SerializationError),
        (SchemaRegistryError(422, 42201, "Invalid schema"), SerializationError),
        (SchemaRegistryError(503, 50003, "Service unavailable"), ExternalServiceError),
        (SchemaRegistryError(401, 401, "Unauthorized"), ExternalServiceError),
        (ConnectionRefusedError("connection refused"), ExternalServiceError),
    ],
    ids=["incompatible", "invalid", "unavailable", "unauthorized", "unreachable"],
)
def test_registry_failures_are_ours_bad_data_apart_from_an_unavailable_registry(
    error: Exception, expected: type[Exception]
) -> None:
    serde = AvroSerde(SerdeSettings(registry=_AUTO_REGISTER), registry=_FailingRegistry(error))

    with pytest.raises(expected) as raised:
        serde.encode(make_alert(), topic=TOPIC)

    assert type(raised.value) is expected
    assert raised.value.__cause__ is error


# --- bad input -----------------------------------------------------------------------------------


def _single_object(serde: AvroSerde, name: str = "SiemEvent") -> bytes:
    return serde.encode(FACTORIES[name](), topic=TOPIC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unknown framing empty"),
        (b"hello world", "unknown framing 6865"),
        (b"\xc3\x01\x00", "3 bytes is shorter than the header"),
        (b"\xc3\x01" + bytes(8) + b"\x02", "unknown schema fingerprint 0000000000000000"),
    ],
    ids=["empty", "text", "short-header", "unknown-fingerprint"],
)
def test_garbage_is_a_serialization_error_that_says_why(serde: AvroSerde, data: bytes, message: str) -> None:
    with pytest.raises(SerializationError, match=message):
        serde.decode(data, SiemEvent, topic=TOPIC)


def test_a_truncated_body_is_a_serialization_error(serde: AvroSerde) -> None:
    data = _single_object(serde)

    with pytest.raises(SerializationError, match="cannot decode SiemEvent from topic prisma.test"):
        serde.decode(data[:-20], SiemEvent, topic=TOPIC)


def test_trailing_bytes_are_a_serialization_error(serde: AvroSerde) -> None:
    with pytest.raises(SerializationError, match="3 bytes left after the record"):
        serde.decode(_single_object(serde) + b"abc", SiemEvent, topic=TOPIC)


def test_a_message_of_another_record_type_is_refused(serde: AvroSerde) -> None:
    with pytest.raises(
        SerializationError, match="cannot decode Alert from topic prisma.test: the message holds a SiemEvent"
    ):
        serde.decode(_single_object(serde), Alert, topic=TOPIC)


def test_a_short_confluent_message_is_a_serialization_error(registry_serde: AvroSerde) -> None:
    with pytest.raises(SerializationError):
        registry_serde.decode(b"\x00\x00\x00", Alert, topic=TOPIC)


def test_an_unknown_confluent_schema_id_is_a_serialization_error(registry_serde: AvroSerde) -> None:
    with pytest.raises(SerializationError):
        registry_serde.decode(b"\x00\x00\x00\x03\xe7" + b"\x02a", Alert, topic=TOPIC)


def test_a_model_without_a_schema_is_a_schema_error_not_bad_data(serde: AvroSerde) -> None:
    with pytest.raises(SchemaError) as raised:
        serde.encode(make_resource_ref(), topic=TOPIC)
    assert type(raised.value) is SchemaError
    assert "no Avro schema named 'ResourceRef'" in str(raised.value)
    with pytest.raises(SchemaError):
        serde.deserializer(ResourceRef, TOPIC)


def test_a_symbol_the_model_does_not_know_is_a_serialization_error() -> None:
    datum = model_to_avro(make_siem_event())
    datum["severity"] = "APOCALYPTIC"

    with pytest.raises(SerializationError, match="SiemEvent.severity: 'APOCALYPTIC' is not a symbol of Severity"):
        model_from_avro(SiemEvent, datum)


def test_a_datum_failing_model_validation_is_a_serialization_error() -> None:
    datum = model_to_avro(make_siem_event())
    datum["score"] = 101

    with pytest.raises(SerializationError, match="decoded SiemEvent fails validation"):
        model_from_avro(SiemEvent, datum)


def test_a_record_that_does_not_fit_its_schema_is_a_serialization_error(serde: AvroSerde) -> None:
    event = make_siem_event().model_copy(update={"score": "high"})  # model_copy skips validation

    with pytest.raises(SerializationError, match="cannot encode SiemEvent"):
        serde.encode(event, topic=TOPIC)


# --- fingerprints --------------------------------------------------------------------------------

# From the Avro project's share/test/data/schema-tests.txt: schema, canonical form, fingerprint
# (a signed Java long), cross-checked there against Java's reference implementation.
SPEC_VECTORS: list[tuple[Any, str, int]] = [
    ("null", '"null"', 7195948357588979594),
    ({"type": "boolean"}, '"boolean"', -6970731678124411036),
    ("int", '"int"', 8247732601305521295),
    ("string", '"string"', -8142146995180207161),
    (["int", {"type": "boolean"}], '["int","boolean"]', 5392556393470105090),
    (
        {"fields": [], "type": "record", "name": "foo", "namespace": "x.y"},
        '{"name":"x.y.foo","type":"record","fields":[]}',
        5916914534497305771,
    ),
    (
        {"fields": [], "type": "record", "name": "a.b.foo", "namespace": "x.y"},
        '{"name":"a.b.foo","type":"record","fields":[]}',
        -4616218487480524110,
    ),
    (
        {
            "fields": [
                {"type": "boolean", "aliases": [], "name": "f1", "default": "true"},
                {"order": "descending", "name": "f2", "doc": "Hello", "type": "int"},
            ],
            "type": "record",
            "name": "foo",
        },
        '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
        -4860222112080293046,
    ),
    (
        {"namespace": "x.y.z", "type": "enum", "name": "foo", "doc": "foo bar", "symbols": ["A1", "A2"]},
        '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
        -4448647247586288245,
    ),
    (
        {"namespace": "x.y.z", "type": "fixed", "name": "foo", "doc": "foo bar", "size": 32},
        '{"name":"x.y.z.foo","type":"fixed","size":32}',
        -3064184465700546786,
    ),
    ({"items": {"type": "null"}, "type": "array"}, '{"type":"array","items":"null"}', -589620603366471059),
    ({"values": "string", "type": "map"}, '{"type":"map","values":"string"}', -8732877298790414990),
    (
        {
            "name": "PigValue",
            "type": "record",
            "fields": [{"name": "value", "type": ["null", "int", "long", "PigValue"]}],
        },
        '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
        -1759257747318642341,
    ),
]


@pytest.mark.parametrize(("schema", "canonical", "expected"), SPEC_VECTORS, ids=lambda v: str(v)[:30])
def test_canonical_form_and_fingerprint_match_the_avro_spec_vectors(schema: Any, canonical: str, expected: int) -> None:
    assert parsing_canonical_form(schema) == canonical
    assert rabin_fingerprint64(canonical.encode()) == expected % 2**64
    assert fingerprint(schema) == (expected % 2**64).to_bytes(8, "little")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_our_fingerprints_agree_with_fastavro(name: str) -> None:
    standalone = expand(load_schemas()[name])
    canonical = to_parsing_canonical_form(standalone)

    assert parsing_canonical_form(standalone) == canonical
    assert fingerprint(standalone).hex() == fastavro_fingerprint(canonical, "CRC-64-AVRO")


def test_fingerprint_ignores_docs_and_defaults_but_not_structure() -> None:
    schema = expand(load_schemas()["SiemEvent"])
    assert isinstance(schema, dict)
    reworded = {**schema, "doc": "something else", "fields": [{**f, "doc": "x"} for f in schema["fields"]]}
    extended = {**schema, "fields": [*schema["fields"], {"name": "extra", "type": "string", "default": ""}]}

    assert fingerprint(reworded) == fingerprint(schema)
    assert fingerprint(extended) != fingerprint(schema)
