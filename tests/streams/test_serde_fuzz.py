"""Every deserialiser under arbitrary bytes: a record or a SerializationError, never another exception.

For each record type with a schema, hypothesis feeds :meth:`AvroSerde.decode` random bytes, bytes
behind the right (or another type's) single-object header, Confluent-framed bytes without a
registry, and valid encodings with bytes flipped, cut or appended. A consumer that dead-letters
on SerializationError can then never be stopped by a poisoned message.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from processors.errors import SerializationError
from schemas import SCHEMA_NAMES
from streams.serde import SINGLE_OBJECT_MARKER, AvroSerde
from tests.factories import FACTORIES
from tests.fuzz_settings import fuzz_examples

SERDE = AvroSerde()
SAMPLES: dict[str, BaseModel] = {name: FACTORIES[name]() for name in SCHEMA_NAMES}
ENCODED: dict[str, bytes] = {name: SERDE.encode(record, topic="fuzz") for name, record in SAMPLES.items()}


@st.composite
def messages(draw: st.DrawFn, name: str) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:  # the right header, then anything
        header_of = draw(st.sampled_from([name, *SCHEMA_NAMES]))
        return SINGLE_OBJECT_MARKER + SERDE.schema_fingerprint(header_of) + draw(st.binary(max_size=300))
    if kind == 2:  # Confluent framing, no registry configured
        return b"\x00" + draw(st.binary(min_size=0, max_size=40))
    valid = bytearray(ENCODED[name])
    if kind == 3:  # flip bytes of a valid body
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(len(SINGLE_OBJECT_MARKER) + 8, max(len(valid) - 1, 10)))
            if at < len(valid):
                valid[at] = draw(st.integers(0, 255))
        return bytes(valid)
    cut = draw(st.integers(0, len(valid)))  # cut short, or with bytes after the record
    return bytes(valid[:cut]) + draw(st.binary(max_size=12))


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_decoding_arbitrary_bytes_gives_a_record_or_a_serialization_error(name: str) -> None:
    model = type(SAMPLES[name])

    @given(data=messages(name))
    @settings(max_examples=fuzz_examples(1 / len(SCHEMA_NAMES), minimum=20), deadline=None,
              suppress_health_check=list(HealthCheck))
    def decode(data: bytes) -> None:
        try:
            decoded: Any = SERDE.decode(data, model, topic="fuzz")
        except SerializationError:
            return
        assert isinstance(decoded, model)

    decode()


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_valid_encodings_still_decode(name: str) -> None:
    """The mutations above start from real encodings; those decode back to the record."""
    assert SERDE.decode(ENCODED[name], type(SAMPLES[name]), topic="fuzz") == SAMPLES[name]
